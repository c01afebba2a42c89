"""Outbox delivery: platform choice, dead letters that stay visible, and the retry command."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.models import Identity, Outbox
from bot.outbox import MAX_ATTEMPTS, backoff, enqueue
from bot.services.people import delivery_platform, reach_of
from cards import Text
from tests.factories import make_employee


def _person(session, **ids):
    employee = make_employee(session, **{k: v for k, v in ids.items() if k.endswith("platform")})
    for platform, external_id in ids.items():
        if not platform.endswith("platform"):
            session.add(Identity(employee=employee, platform=platform, external_id=external_id))
    session.commit()
    return employee


@pytest.mark.parametrize(
    "ids, enabled, expected",
    [
        ({"wecom": "w1", "feishu": "f1"}, {"wecom", "feishu"}, ("wecom", "w1")),
        (
            {"wecom": "w1", "feishu": "f1", "preferred_platform": "feishu"},
            {"wecom", "feishu"},
            ("feishu", "f1"),
        ),
        (
            {"wecom": "w1", "feishu": "f1", "last_platform": "feishu"},
            {"wecom", "feishu"},
            ("feishu", "f1"),
        ),
        (
            {"dingtalk": "d1", "preferred_platform": "wecom"},
            {"wecom", "dingtalk"},
            ("dingtalk", "d1"),
        ),
        ({"wecom": "w1"}, {"feishu"}, None),
    ],
    ids=["first-in-order", "preferred", "last-used", "preferred-missing", "unreachable"],
)
def test_delivery_platform_choice(session, ids, enabled, expected):
    employee = _person(session, **ids)
    assert delivery_platform(reach_of(session, [employee.id])[employee.id], enabled) == expected


def test_unreachable_message_is_dead_lettered_and_listed(
    session, clock, drain, monkeypatch, db_url, tmp_path
):
    employee = make_employee(session)
    row = enqueue(
        session,
        Text("hello"),
        now=clock.now(),
        platform="wecom",
        target={"user_id": "x"},
        recipient=employee,
    )
    session.commit()
    drain()
    dead = session.get(Outbox, row.id)
    assert dead.state == "dead" and "wecom is off" in dead.last_error
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("BOT_SECRET_KEY", "c" * 32)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))  # no key files in the checkout
    runner = CliRunner()
    listed = runner.invoke(cli, ["outbox", "list", "--failed"])
    assert listed.exit_code == 0 and f"{row.id}\tdead\tsend\twecom" in listed.output
    retried = runner.invoke(cli, ["outbox", "retry", str(row.id)])
    assert "requeued 1 row(s)" in retried.output
    session.commit()  # end the read snapshot taken before the CLI wrote
    session.expire_all()
    assert session.get(Outbox, row.id).state == "pending"


def test_backoff_grows_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff(30) == timedelta(hours=1)
    assert MAX_ATTEMPTS >= 5


def test_rows_not_yet_due_wait_for_the_clock(session, clock, drain):
    employee = make_employee(session)
    row = enqueue(
        session, Text("later"), now=clock.now() + timedelta(minutes=5), recipient=employee
    )
    session.commit()
    drain()
    assert session.get(Outbox, row.id).state == "pending"
    clock.advance(minutes=6)
    drain()
    assert session.get(Outbox, row.id).state == "sent"


def test_pacing_holds_back_a_burst_without_counting_attempts(state, session, clock, drain):
    from bot.platforms import Limit

    state.rate_limits["local"] = {"user": (Limit(2, 60),)}
    employee = make_employee(session)
    rows = [
        enqueue(session, Text(f"第{i}条"), now=clock.now(), recipient=employee) for i in range(3)
    ]
    drain()
    states = [session.get(Outbox, r.id) for r in rows]
    assert [s.state for s in states] == ["sent", "sent", "pending"]
    assert states[2].attempts == 0
    assert states[2].next_attempt_at == clock.now() + timedelta(seconds=60)
    clock.advance(seconds=61)
    drain()
    assert session.get(Outbox, rows[2].id).state == "sent"


def test_pacing_is_per_recipient(state, session, clock, drain):
    from bot.platforms import Limit

    state.rate_limits["local"] = {"user": (Limit(1, 60),)}
    a, b = make_employee(session), make_employee(session)
    rows = [enqueue(session, Text("hi"), now=clock.now(), recipient=p) for p in (a, b)]
    drain()
    assert [session.get(Outbox, r.id).state for r in rows] == ["sent", "sent"]


def test_idempotency_key_is_stable_per_row_and_unique_across_databases():
    from datetime import UTC, datetime

    from bot.runtime.delivery import idempotency_key

    created = datetime(2026, 11, 29, 8, 30, 1, 123456, tzinfo=UTC)
    key = idempotency_key(7, created)
    assert key == idempotency_key(7, created)  # a retry repeats it
    # Row 7 of a database created later (ids start again at 1) gets another key.
    assert key != idempotency_key(7, created + timedelta(days=3))
    assert len(idempotency_key(2**63, created)) <= 50 and key.replace("-", "").isalnum()
