"""DingTalk replays: a signature that covers no body, an event signed long ago, and a card button
pressed again (issue 15).

DingTalk's robot and card `sign` is HMAC(app secret, timestamp + "\\n" + app secret): it signs
the time, not the message. A captured pair must not sign a forged body later, in any process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.db import make_engine
from bot.models import Claim, ClaimState, Identity, InboundEvent, JobRun, Role
from bot.notices import claims as notices
from bot.services.ledger import append_entry
from handlers.claim import PICK_TITLE
from tests.drivers.dingtalk import DingtalkDriver
from tests.factories import make_employee, make_team, photo_bytes
from tests.fakes.dingtalk import (
    AES_KEY,
    TOKEN,
    FakeDingtalk,
    encrypted_event,
    robot_message,
    sign_headers,
)

WORKER, HR = "w01", "hr01"
APPROVAL = "待审核申领"


@pytest.fixture
def fake():
    """The fake DingTalk, stopped (and checked for unknown paths) after the test."""
    server = FakeDingtalk().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake):
    """DingTalk on, with the event subscription, pointed at the fake."""
    return fake.env(DINGTALK_TOKEN=TOKEN, DINGTALK_AES_KEY=AES_KEY)


@pytest.fixture
def people(session, clock):
    """A worker and HR on DingTalk; the worker scored last week, so a broadcast would go out."""
    _boss, (worker, _) = make_team(session)
    hr = make_employee(session, name="周敏", role=Role.HR)
    for who, uid in ((worker, WORKER), (hr, HR)):
        session.add(Identity(employee=who, platform="dingtalk", external_id=uid))
    append_entry(session, worker, 20, kind="claim", memo="t", now=clock.now() - timedelta(days=7))
    session.commit()
    return worker, hr


def post(client: Any, headers: dict[str, str], body: dict[str, Any], route: str = "robot") -> Any:
    """POST `body` to a DingTalk route under given (possibly captured) signature headers."""
    return client.post(f"/dingtalk/{route}", json=body, headers=headers)


def count(session, column) -> int:
    session.commit()  # a fresh snapshot: see what the app committed
    return session.scalar(select(func.count(column)))


FORGERIES = {
    "claim": (WORKER, "申领 B06"),
    "broadcast": (HR, "排行 广播"),
}


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
def test_captured_pair_with_a_forged_body_later_is_refused(
    client, clock, session, fake, people, drain, forgery
):
    sender, forged_text = FORGERIES[forgery]
    captured = sign_headers(clock.now())
    assert post(client, captured, robot_message(sender, text="积分")).status_code == 200
    drain()
    clock.advance(seconds=10)
    resp = post(client, captured, robot_message(sender, text=forged_text))
    assert (resp.status_code, resp.data) == (403, b"")
    drain()
    assert count(session, InboundEvent.id) == 1
    assert count(session, Claim.id) == 0
    jobs = select(func.count(JobRun.id)).where(JobRun.job == "weekly_leaderboard")
    assert session.scalar(jobs) == 0
    assert len(fake.texts_to(sender)) == 1  # the answer to 积分, nothing else


def test_redelivery_of_the_same_message_later_is_handled_once(
    client, clock, session, fake, people, drain
):
    captured = sign_headers(clock.now())
    body = robot_message(WORKER, text="积分")
    assert post(client, captured, body).status_code == 200
    drain()
    clock.advance(seconds=30)
    assert post(client, captured, body).json == {}
    drain()
    assert count(session, InboundEvent.id) == 1
    assert len(fake.texts_to(WORKER)) == 1


def test_two_messages_signed_in_the_same_millisecond_are_both_handled(
    client, clock, session, fake, people, drain
):
    captured = sign_headers(clock.now())
    first, second = robot_message(WORKER, text="积分"), robot_message(HR, text="积分")
    assert post(client, captured, first).status_code == 200
    clock.advance(milliseconds=800)
    assert post(client, captured, second).status_code == 200
    drain()
    assert count(session, InboundEvent.id) == 2
    assert len(fake.texts_to(WORKER)) == 1 and len(fake.texts_to(HR)) == 1
    # After the grace each may still be re-delivered (and stays one message); a third may not.
    clock.advance(minutes=5)
    assert [post(client, captured, body).status_code for body in (first, second)] == [200, 200]
    assert post(client, captured, robot_message(HR, text="申领 B06")).status_code == 403
    drain()
    assert count(session, InboundEvent.id) == 2
    assert len(fake.texts_to(WORKER)) == 1 and len(fake.texts_to(HR)) == 1


def test_pair_is_remembered_by_every_process_on_the_database(
    state, client, clock, session, fake, people, drain, db_url
):
    engine = make_engine(db_url)
    other = create_app({"CONFIG": state.config, "CLOCK": clock, "ENGINE": engine})
    other.testing = True
    try:
        captured = sign_headers(clock.now())
        genuine = robot_message(WORKER, text="积分")
        assert post(client, captured, genuine).status_code == 200
        clock.advance(seconds=10)
        forged = robot_message(WORKER, text="申领 B06")
        assert post(other.test_client(), captured, forged).status_code == 403
        assert post(other.test_client(), captured, genuine).status_code == 200
        drain()
        assert count(session, InboundEvent.id) == 1
        assert count(session, Claim.id) == 0
    finally:
        engine.dispose()


def test_forged_card_click_under_a_captured_robot_pair_is_refused(
    client, clock, session, fake, people, drain
):
    captured = sign_headers(clock.now())
    assert post(client, captured, robot_message(WORKER, text="积分")).status_code == 200
    clock.advance(seconds=10)
    click = {"outTrackId": "track1", "userId": HR, "content": "{}"}
    assert post(client, captured, click, route="card").status_code == 403


@pytest.mark.parametrize(
    "age", [timedelta(days=7), timedelta(minutes=61)], ids=["7 days", "61 minutes"]
)
def test_event_signed_long_ago_is_refused(client, clock, fake, age):
    query, body = encrypted_event({"EventType": "check_url"}, clock.now() - age)
    resp = client.post(f"/dingtalk/events?{query}", json=body)
    assert (resp.status_code, resp.data) == (403, b"")


def test_event_signed_within_the_window_is_answered(client, clock, fake):
    query, body = encrypted_event({"EventType": "check_url"}, clock.now() - timedelta(minutes=59))
    assert client.post(f"/dingtalk/events?{query}", json=body).status_code == 200


# -- a card button pressed again -------------------------------------------------------------------


def test_reject_again_after_cancelling_on_a_dingtalk_card_rejects_the_claim(
    client, clock, session, fake, drain
):
    driver = DingtalkDriver(fake, client, clock)
    boss, (worker, _) = make_team(session)
    boss_uid, worker_uid = driver.enroll(session, boss), driver.enroll(session, worker)
    driver.send_photo(worker_uid, photo_bytes(1))
    drain()
    driver.press(worker_uid, driver.last_card(worker_uid, PICK_TITLE), "A01")
    drain()
    claim = session.scalars(select(Claim)).one()
    reject_title = notices.REJECT_TITLE.format(claim_id=claim.id)

    driver.press(boss_uid, driver.last_card(boss_uid, APPROVAL), "驳回")
    drain()
    clock.advance(seconds=20)
    driver.press(boss_uid, driver.last_card(boss_uid, reject_title), "取消")
    drain()
    assert driver.texts(boss_uid)[-1] == notices.REJECT_CANCELLED.format(claim_id=claim.id)
    # Same card, same button, same person, pressed anew: a new click. Delivered twice: once.
    clock.advance(seconds=20)
    driver.press(boss_uid, driver.last_card(boss_uid, APPROVAL), "驳回", times=2)
    drain()
    asked = [m for m in driver.received(boss_uid) if m.card and m.card.title == reject_title]
    assert len(asked) == 2
    clock.advance(seconds=20)
    driver.press(boss_uid, driver.last_card(boss_uid, reject_title), notices.REJECT_REASONS[0])
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.REJECTED and claim.reason == notices.REJECT_REASONS[0]
