"""The scenarios every platform must pass, written once and run over the WeCom, DingTalk and Feishu
fakes and the local web chat (design §2: one scenario suite over every adapter).

Each test speaks through a driver (tests/drivers/): inbound built the way the platform builds it,
and what the platform received read back from its own JSON. What only one platform does (its
signatures, replay windows, encryption, rate limits, tokens, lost answers, card JSON) stays in
that platform's own test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Claim, ClaimState, Employee, InboundEvent, LedgerEntry, Role
from bot.notices import appeals as appeal_notices
from bot.notices import claims as notices
from bot.notices.asks import REASON_LINE
from bot.notices.system import UNKNOWN_SENDER
from bot.services.evidence import photo_path
from bot.services.ledger import balance
from bot.signing import NOT_YOUR_BUTTON
from handlers.approval import APPROVED_ACK, REJECTED_ACK
from handlers.claim import PICK_TITLE, PICKED
from tests.drivers import Delivered, Driver
from tests.drivers.dingtalk import DingtalkDriver
from tests.drivers.feishu import FeishuDriver
from tests.drivers.feishu import env as feishu_env
from tests.drivers.local import LocalDriver
from tests.drivers.wecom import WecomDriver
from tests.factories import make_employee, make_team, photo_bytes
from tests.fakes.dingtalk import FakeDingtalk
from tests.fakes.feishu import FakeFeishu
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom import env as wecom_env

PLATFORMS = ("wecom", "dingtalk", "feishu", "local")
FAKES: dict[str, Any] = {"wecom": FakeWecom, "dingtalk": FakeDingtalk, "feishu": FakeFeishu}
RULE = "发现模具磨损隐患并报修"  # A01, +20, needs a photo
APPROVAL = "待审核申领"


@pytest.fixture(params=PLATFORMS)
def platform(request: pytest.FixtureRequest) -> str:
    """The platform this run of a scenario goes through."""
    return request.param


@pytest.fixture
def fake(platform: str) -> Iterator[Any]:
    """The platform's fake Open API on 127.0.0.1 (None for the local chat, which has none)."""
    if platform not in FAKES:
        yield None
        return
    server = FAKES[platform]().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(platform: str, fake: Any) -> dict[str, str]:
    """Switch the platform's adapter on, pointed at its fake (the local chat is always on)."""
    return {
        "wecom": lambda: wecom_env(fake),
        "dingtalk": lambda: fake.env(),
        "feishu": lambda: feishu_env(fake),
        "local": dict,
    }[platform]()


@pytest.fixture
def driver(platform: str, fake: Any, client: Any, clock: Any, session: Session) -> Driver:
    """The platform's driver."""
    if platform == "local":
        return LocalDriver(client, session)
    return {"wecom": WecomDriver, "dingtalk": DingtalkDriver, "feishu": FeishuDriver}[platform](
        fake, client, clock
    )


@dataclass
class Member:
    """An employee and what the platform calls them."""

    employee: Employee
    uid: str


@dataclass
class Team:
    """王主管 and two of his workers, all on the platform under test."""

    boss: Member
    worker: Member
    colleague: Member


@pytest.fixture
def team(session: Session, driver: Driver) -> Team:
    """王主管 with two workers, each enrolled on the platform."""
    boss, (worker, colleague) = make_team(session)
    return Team(*(Member(e, driver.enroll(session, e)) for e in (boss, worker, colleague)))


def claim_by_photo(driver: Driver, session: Session, drain: Any, team: Team) -> Claim:
    """The worker sends a photo and taps A01 on the rule card; returns the new claim."""
    driver.send_photo(team.worker.uid, photo_bytes(1))
    drain()
    driver.press(team.worker.uid, driver.last_card(team.worker.uid, PICK_TITLE), "A01")
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


def stored_photo(state: Any, claim: Claim) -> bytes:
    """The evidence file the claim's photo was stored as (what a supervisor must be shown)."""
    return photo_path(state.config.media_dir, claim.evidence).read_bytes()


def count(session: Session, column: Any) -> int:
    """Rows in `column`'s table."""
    return session.scalar(select(func.count(column)))


def said(text: str) -> Delivered:
    """A text message as a driver reports it."""
    return Delivered("text", text)


def assert_rejection_card(driver: Driver, team: Team, claim: Claim, reason: str) -> None:
    """The worker's newest message is the rejection card: the reason, and 申诉 to tap."""
    card = driver.last_message(team.worker.uid).card
    assert card is not None and card.title == appeal_notices.REJECTED_TITLE.format(
        claim_id=claim.id
    )
    assert appeal_notices.REJECTED_REASON.format(reason=reason) in card.lines
    assert card.buttons == (appeal_notices.APPEAL_LABEL,)


# -- the claim flow ------------------------------------------------------------------------------


def test_photo_and_rule_submit_a_claim_and_send_the_supervisor_an_approval_card(
    driver, session, drain, state, team
):
    claim = claim_by_photo(driver, session, drain, team)
    assert claim.state == ClaimState.PENDING and claim.evidence_id is not None
    assert driver.last_message(team.worker.uid) == said(
        notices.CLAIM_SUBMITTED.format(rule=f"A01 {RULE}", award="+20 分", approver="王主管")
    )
    # The rule card no longer offers buttons once used, and says what was chosen.
    pick = driver.last_card(team.worker.uid, PICK_TITLE)
    assert pick.buttons == () and pick.status == PICKED.format(code="A01", title=RULE)
    card = driver.last_card(team.boss.uid, APPROVAL)
    assert card.title == f"{APPROVAL} #{claim.id}"
    assert set(card.fields) >= {"申领人", "规则", "积分", "时间"}
    assert card.buttons == ("通过", "驳回") and card.status is None
    assert card.photo is not None and stored_photo(state, claim) in card.photo


def test_approval_credits_the_ledger_and_tells_the_worker(driver, session, drain, state, team):
    claim = claim_by_photo(driver, session, drain, team)
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, APPROVAL), "通过")
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.APPROVED and claim.decided_by_id == team.boss.employee.id
    assert balance(session, team.worker.employee.id) == 20
    assert driver.last_message(team.worker.uid) == said(
        notices.CLAIM_APPROVED.format(rule=RULE, award="+20 分", balance=20)
    )
    assert driver.last_message(team.boss.uid) == said(
        APPROVED_ACK.format(claim_id=claim.id, name=team.worker.employee.name, award="+20 分")
    )
    card = driver.last_card(team.boss.uid, APPROVAL)
    assert card.buttons == () and card.status == "已通过 · 王主管 · 10:00"
    assert driver.updates(card) == 1
    assert card.photo is not None and stored_photo(state, claim) in card.photo


def test_reject_asks_for_a_reason_and_takes_the_typed_text(driver, session, drain, team):
    claim = claim_by_photo(driver, session, drain, team)
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, APPROVAL), "驳回")
    drain()
    ask = driver.last_card(team.boss.uid, notices.REJECT_TITLE.format(claim_id=claim.id))
    assert ask.lines[0] == notices.REASON_PROMPT.format(claim_id=claim.id)
    assert ask.buttons == (*notices.REJECT_REASONS, "取消")
    driver.say(team.boss.uid, "照片看不到模具编号")
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.REJECTED and claim.reason == "照片看不到模具编号"
    assert balance(session, team.worker.employee.id) == 0
    assert_rejection_card(driver, team, claim, "照片看不到模具编号")
    assert driver.last_message(team.boss.uid) == said(
        REJECTED_ACK.format(claim_id=claim.id, name=team.worker.employee.name)
    )
    card = driver.last_card(team.boss.uid, APPROVAL)
    assert card.buttons == ()
    assert card.status == "已驳回 · 王主管 · 10:00\n" + REASON_LINE.format(
        reason="照片看不到模具编号"
    )
    assert driver.last_card(team.boss.uid, "驳回申领").buttons == ()


def test_reject_with_a_quick_reason_button(driver, session, drain, team):
    claim = claim_by_photo(driver, session, drain, team)
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, APPROVAL), "驳回")
    drain()
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, "驳回申领"), "照片不清晰")
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.REJECTED and claim.reason == "照片不清晰"
    assert balance(session, team.worker.employee.id) == 0
    assert_rejection_card(driver, team, claim, "照片不清晰")
    card = driver.last_card(team.boss.uid, APPROVAL)
    assert card.status == "已驳回 · 王主管 · 10:00\n" + REASON_LINE.format(reason="照片不清晰")
    assert driver.last_card(team.boss.uid, "驳回申领").buttons == ()


# -- duplicate delivery --------------------------------------------------------------------------


def test_same_click_delivered_three_times_is_processed_once(driver, session, drain, team):
    claim = claim_by_photo(driver, session, drain, team)
    events = count(session, InboundEvent.id)
    told_worker, told_boss = len(driver.told(team.worker.uid)), len(driver.told(team.boss.uid))
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, APPROVAL), "通过", times=3)
    drain()
    # One stored delivery: the repeats never reach the handlers.
    assert count(session, InboundEvent.id) == events + 1
    assert balance(session, team.worker.employee.id) == 20
    assert count(session, LedgerEntry.id) == 1
    assert driver.told(team.worker.uid)[told_worker:] == [
        notices.CLAIM_APPROVED.format(rule=RULE, award="+20 分", balance=20)
    ]
    # One confirmation, and no "already decided" answer to the repeats.
    assert driver.told(team.boss.uid)[told_boss:] == [
        APPROVED_ACK.format(claim_id=claim.id, name=team.worker.employee.name, award="+20 分")
    ]
    assert driver.updates(driver.last_card(team.boss.uid, APPROVAL)) == 1


def test_same_message_delivered_twice_is_answered_once(driver, session, drain, team):
    driver.say(team.worker.uid, "积分", times=2)
    drain()
    assert count(session, InboundEvent.id) == 1
    (answer,) = driver.received(team.worker.uid)
    assert f"{team.worker.employee.name} 的积分" in answer.text


# -- who may press -------------------------------------------------------------------------------


def test_someone_else_pressing_the_supervisors_button_is_refused(driver, session, drain, team):
    claim = claim_by_photo(driver, session, drain, team)
    driver.press(team.colleague.uid, driver.last_card(team.boss.uid, APPROVAL), "通过")
    drain()
    assert driver.told(team.colleague.uid) == [NOT_YOUR_BUTTON]
    assert all(m.kind == "text" for m in driver.received(team.colleague.uid))
    session.refresh(claim)
    assert claim.state == ClaimState.PENDING
    assert balance(session, team.worker.employee.id) == 0
    assert count(session, LedgerEntry.id) == 0
    card = driver.last_card(team.boss.uid, APPROVAL)
    assert card.buttons == ("通过", "驳回") and driver.updates(card) == 0


# -- every copy of a card ------------------------------------------------------------------------


@pytest.mark.parametrize("decider", ["boss", "deputy"])
def test_every_copy_of_the_approval_card_shows_the_outcome(
    driver, session, drain, state, team, decider
):
    boss = team.boss.employee
    deputy = make_employee(session, name="副主管", role=Role.SUPERVISOR, department=boss.department)
    boss.delegate = deputy
    session.commit()
    copies = {"boss": team.boss.uid, "deputy": driver.enroll(session, deputy)}
    claim = claim_by_photo(driver, session, drain, team)
    for uid in copies.values():
        card = driver.last_card(uid, APPROVAL)
        assert card.buttons == ("通过", "驳回")
        assert card.photo is not None and stored_photo(state, claim) in card.photo
    driver.press(copies[decider], driver.last_card(copies[decider], APPROVAL), "通过")
    drain()
    decided_by = {"boss": boss, "deputy": deputy}[decider]
    session.refresh(claim)
    assert claim.state == ClaimState.APPROVED and claim.decided_by_id == decided_by.id
    assert balance(session, team.worker.employee.id) == 20
    for uid in copies.values():
        card = driver.last_card(uid, APPROVAL)
        assert card.buttons == () and card.status == f"已通过 · {decided_by.name} · 10:00"
        assert driver.updates(card) == 1


# -- strangers -----------------------------------------------------------------------------------


def test_unknown_sender_gets_one_polite_reply_per_day(driver, session, drain, clock):
    stranger = driver.stranger(session)
    driver.say(stranger, "积分")
    driver.say(stranger, "你好")
    drain()
    assert driver.texts(stranger) == [UNKNOWN_SENDER]
    assert len(driver.received(stranger)) == 1
    clock.advance(days=1, minutes=1)
    driver.say(stranger, "积分")
    drain()
    assert driver.texts(stranger) == [UNKNOWN_SENDER, UNKNOWN_SENDER]
    assert len(driver.received(stranger)) == 2
