"""The platform table holds (design §2): a fifth messenger, `teamchat`, defined entirely inside
tests/ (its adapter package tests/teamchat/, its fake Open API tests/fakes/teamchat.py) and added
with one `bot.platforms.register(...)`, runs the bot with no edit anywhere else.

The row is registered only for the tests that ask for it (the `teamchat` fixture) and taken
out again afterwards, so no other test ever sees a fifth platform.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import load_config
from bot.errors import ConfigError
from bot.models import Claim, ClaimState, DepartmentChat, Identity, LedgerEntry, Outbox
from bot.notices import claims as notices
from bot.outbox import enqueue
from bot.platforms import PLATFORMS, PlatformSpec, register
from bot.services.departments import department_columns, import_departments
from bot.services.evidence import photo_path
from bot.services.ledger import balance
from bot.services.org import import_org, org_columns
from cards import Text
from handlers.approval import APPROVED_ACK
from handlers.claim import PICK_TITLE
from tests.drivers import Delivered
from tests.drivers.teamchat import TeamchatDriver
from tests.factories import make_team, photo_bytes
from tests.fakes.teamchat import FakeTeamchat
from tests.teamchat import SPEC


@contextmanager
def registered(spec: PlatformSpec) -> Iterator[PlatformSpec]:
    """`spec` in the platform table for the duration, and the table exactly as before after."""
    before = dict(PLATFORMS)
    register(spec)
    try:
        yield spec
    finally:
        PLATFORMS.clear()
        PLATFORMS.update(before)


@pytest.fixture
def teamchat() -> Iterator[PlatformSpec]:
    """The fifth platform's row, registered for this test only."""
    with registered(SPEC) as spec:
        yield spec


@pytest.fixture
def fake(teamchat: PlatformSpec) -> Iterator[FakeTeamchat]:
    """teamchat's fake Open API on 127.0.0.1."""
    server = FakeTeamchat().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake: FakeTeamchat) -> dict[str, str]:
    """Switch teamchat on, pointed at its fake, by its own variables."""
    return fake.env()


@pytest.fixture
def driver(fake: FakeTeamchat, client: Any, clock: Any) -> TeamchatDriver:
    """Speaks to the bot as teamchat does."""
    return TeamchatDriver(fake, client, clock)


def test_a_fifth_platform_carries_the_photo_claim_to_the_ledger(state, driver, session, drain):
    assert "teamchat" in state.adapters
    boss, (worker, _) = make_team(session)
    boss_id, worker_id = driver.enroll(session, boss), driver.enroll(session, worker)

    driver.send_photo(worker_id, photo_bytes(1))
    drain()
    driver.press(worker_id, driver.last_card(worker_id, PICK_TITLE), "A01")
    drain()

    claim = session.scalars(select(Claim)).one()
    assert claim.state == ClaimState.PENDING and claim.platform == "teamchat"
    assert driver.last_message(worker_id) == Delivered(
        "text",
        notices.CLAIM_SUBMITTED.format(
            rule="A01 发现模具磨损隐患并报修", award="+20 分", approver="王主管"
        ),
    )
    card = driver.last_card(boss_id, f"待审核申领 #{claim.id}")
    assert card.buttons == ("通过", "驳回")
    stored = photo_path(state.config.media_dir, claim.evidence).read_bytes()
    assert card.photo is not None and stored in card.photo

    driver.press(boss_id, card, "通过")
    drain()

    session.refresh(claim)
    assert claim.state == ClaimState.APPROVED and claim.decided_by_id == boss.id
    assert balance(session, worker.id) == 20
    assert session.scalar(select(func.count(LedgerEntry.id))) == 1
    assert driver.last_message(worker_id) == Delivered(
        "text",
        notices.CLAIM_APPROVED.format(rule="发现模具磨损隐患并报修", award="+20 分", balance=20),
    )
    assert driver.last_message(boss_id) == Delivered(
        "text", APPROVED_ACK.format(claim_id=claim.id, name=worker.name, award="+20 分")
    )
    done = driver.last_card(boss_id, "待审核申领")
    assert done.buttons == () and done.status == "已通过 · 王主管 · 10:00"
    assert driver.updates(done) == 1


def test_a_fifth_platform_sends_within_the_limits_of_its_row(state, fake, session, clock, drain):
    rows = [
        enqueue(
            session,
            Text(f"通知{i}"),
            now=clock.now(),
            platform="teamchat",
            target={"user_id": "TU1"},
        )
        for i in range(6)
    ]
    drain()
    assert len(fake.to("TU1")) == 5  # SPEC.user_limits: 5 a minute
    assert session.get(Outbox, rows[-1].id).state == "pending"
    clock.advance(seconds=61)
    drain()
    assert [m.body["text"] for m in fake.to("TU1")] == [f"通知{i}" for i in range(6)]


def test_the_org_csv_reads_the_fifth_platforms_id_column(teamchat, session, clock):
    columns = org_columns()
    assert columns[-1] == "teamchat_user_id"
    row = {"employee_no": "E001", "name": "张三", "department": "冲压车间", "role": "worker"}
    row["teamchat_user_id"] = "TU9"
    text = ",".join(columns) + "\n" + ",".join(row.get(c, "") for c in columns) + "\n"
    report = import_org(session, text, now=clock.now())
    assert (report.created, report.rejected) == (1, [])
    identity = session.scalars(select(Identity)).one()
    assert (identity.platform, identity.external_id) == ("teamchat", "TU9")


def test_the_departments_csv_reads_the_fifth_platforms_chat_column(teamchat, session, clock):
    columns = department_columns()
    assert columns[-1] == "teamchat_channel_id"
    text = ",".join(columns) + "\n冲压车间" + "," * (len(columns) - 2) + ",TC42\n"
    report = import_departments(session, text)
    assert (report.created, report.rejected) == (1, [])
    chat = session.scalars(select(DepartmentChat)).one()
    assert (chat.platform, chat.chat_id) == ("teamchat", "TC42")


BASE_ENV = {"BOT_SECRET_KEY": "test-secret-key-0123456789abcdef", "BOT_ENV": "test"}


def test_a_fifth_platform_is_off_until_its_variables_are_set(teamchat, tmp_path):
    config = load_config({**BASE_ENV, "BOT_VAR_DIR": str(tmp_path)})
    assert config.platform("teamchat") is None


def test_a_half_configured_fifth_platform_stops_start_up_naming_the_variable(teamchat, tmp_path):
    env = {**BASE_ENV, "BOT_VAR_DIR": str(tmp_path), "TEAMCHAT_CLIENT_ID": "tc-client-1"}
    with pytest.raises(ConfigError, match=r"^TEAMCHAT_CLIENT_SECRET: required"):
        load_config(env)


def test_registering_a_platform_is_undone_afterwards():
    before = list(PLATFORMS.items())
    other = replace(SPEC, label="另一个")
    with registered(SPEC), registered(other):
        assert PLATFORMS["teamchat"] is other
        assert list(PLATFORMS)[: len(before)] == [name for name, _ in before]
    assert list(PLATFORMS.items()) == before
