"""Poison rows through DingTalk callbacks: a row the database cannot hold fails alone and visibly
(dead-lettered with its reason, logged once), is never retaken, and never holds back the rows
handled or delivered with it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.models import Identity, InboundEvent, Outbox
from bot.outbox import enqueue
from cards import Text
from tests.factories import make_employee
from tests.fakes.dingtalk import (
    GROUP_SEND,
    FakeDingtalk,
    card_click,
    post_card,
    post_robot,
    robot_message,
)

NUL_USER = "staff\x00evil"
NUL_GROUP = "cidGROUP\x00evil"


@pytest.fixture
def fake() -> Iterator[FakeDingtalk]:
    server = FakeDingtalk().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake: FakeDingtalk) -> dict[str, str]:
    return fake.env()


@pytest.fixture
def staff(session: Any) -> list[str]:
    """Seven employees with DingTalk staff ids."""
    uids = []
    for i in range(7):
        employee = make_employee(session)
        uid = f"w{i:02d}"
        session.add(Identity(employee=employee, platform="dingtalk", external_id=uid))
        uids.append(uid)
    session.commit()
    return uids


def say(client: Any, clock: Any, uid: str, text: str, **kw: Any) -> None:
    resp = post_robot(client, clock.now(), robot_message(uid, text=text, **kw))
    assert (resp.status_code, resp.json) == (200, {})


def events(session: Any) -> list[InboundEvent]:
    session.expire_all()
    return list(session.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def dead_lines(caplog: Any, what: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(what)]


def test_a_click_from_an_unstorable_user_id_is_dead_lettered_once(
    client, clock, session, fake, staff, drain, caplog
):
    resp = post_card(client, clock.now(), card_click("track-1", NUL_USER, "v1.approve.1.x"))
    assert (resp.status_code, resp.json) == (200, {})
    say(client, clock, staff[0], "积分")
    with caplog.at_level(logging.INFO):
        drain()
        for _ in range(3):  # past every backoff and lease: nothing comes back
            clock.advance(minutes=6)
            drain()
    poison, fine = events(session)
    assert (poison.state, poison.attempts, poison.next_attempt_at) == ("failed", 1, None)
    assert "\x00" not in poison.error and "cannot be stored" in poison.error
    assert fine.state == "done" and fake.texts_to(staff[0])
    dead = dead_lines(caplog, f"inbound event {poison.id} dead")
    assert len(dead) == 1 and "cannot be stored" in dead[0]


def test_a_group_reply_to_an_unstorable_chat_id_does_not_hold_back_its_batch(
    client, clock, session, fake, staff, drain, caplog
):
    say(client, clock, staff[0], "积分", group=NUL_GROUP)
    for uid in staff[1:]:
        say(client, clock, uid, "积分")
    with caplog.at_level(logging.INFO):
        drain()
        for _ in range(3):
            clock.advance(minutes=6)
            drain()
    assert [e.state for e in events(session)] == ["done"] * 7
    session.expire_all()
    rows = list(session.scalars(select(Outbox).order_by(Outbox.id)))
    assert len(rows) == 7
    bad, *others = rows
    assert bad.target["chat_id"] == NUL_GROUP
    assert bad.state == "dead" and "cannot be stored" in bad.last_error
    assert "\x00" not in bad.last_error
    assert [r.state for r in others] == ["sent"] * 6
    assert all(len(fake.texts_to(uid)) == 1 for uid in staff[1:])
    assert not fake.server.calls(GROUP_SEND)
    assert len(dead_lines(caplog, f"outbox {bad.id} dead")) == 1


def test_a_reply_that_died_is_not_retried_nor_logged_again(
    client, clock, session, fake, staff, drain, caplog
):
    say(client, clock, staff[0], "积分", group=NUL_GROUP)
    drain()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        clock.advance(hours=2)
        drain()
    session.expire_all()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "dead" and row.attempts == 1
    assert not dead_lines(caplog, "outbox")


@pytest.fixture
def refuse_recording(session: Any) -> Iterator[Any]:
    """A database fault when recording one row as sent (given by `refuse(row_id)`).

    Dropped afterwards: the PostgreSQL test database is reset by truncation, which keeps
    triggers and functions.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"

    def refuse(row_id: int) -> None:
        if sqlite:
            session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE UPDATE OF state ON outbox"
                    f" WHEN NEW.state = 'sent' AND NEW.id = {row_id}"
                    " BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN"
                    f" IF NEW.state = 'sent' AND NEW.id = {row_id} THEN"
                    " RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$"
                    " LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE UPDATE ON outbox"
                    " FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
        session.commit()

    yield refuse
    session.rollback()
    session.execute(text("DROP TRIGGER IF EXISTS refuse" + ("" if sqlite else " ON outbox")))
    if not sqlite:
        session.execute(text("DROP FUNCTION IF EXISTS refuse()"))
    session.commit()


def test_a_send_the_database_will_not_record_does_not_hold_back_its_batch(
    state, clock, session, fake, staff, drain, caplog, refuse_recording
):
    people = [
        session.scalars(select(Identity).where(Identity.external_id == uid)).one().employee
        for uid in staff[:3]
    ]
    rows = [
        enqueue(session, Text(f"第{i}条"), now=clock.now(), recipient=p)
        for i, p in enumerate(people)
    ]
    session.commit()
    refuse_recording(rows[1].id)
    with caplog.at_level(logging.INFO):
        drain()
        clock.advance(minutes=10)  # past the lease: nothing is taken, nor sent, again
        drain()
    session.expire_all()
    states = [session.get(Outbox, r.id) for r in rows]
    assert [r.state for r in states] == ["sent", "dead", "sent"]
    assert states[1].last_error.startswith("sent, but recording the outcome failed")
    assert "refused by test" in states[1].last_error
    assert [fake.texts_to(uid) for uid in staff[:3]] == [["第0条"], ["第1条"], ["第2条"]]
    assert len(dead_lines(caplog, f"outbox {rows[1].id} dead")) == 1


def test_a_card_update_that_fails_in_our_code_fails_alone(
    clock, session, fake, staff, drain, caplog
):
    """An update row whose card state is gone (a database writer deleted it) is dead-lettered
    with the reason, once; the message queued with it is delivered."""
    person = session.scalars(select(Identity).where(Identity.external_id == staff[0])).one()
    ghost = Outbox(kind="update", card_key="card:gone", payload={}, state="pending", attempts=0,
                   next_attempt_at=clock.now(), created_at=clock.now())  # fmt: skip
    session.add(ghost)
    text_row = enqueue(session, Text("照常送达"), now=clock.now(), recipient=person.employee)
    session.commit()
    with caplog.at_level(logging.INFO):
        drain()
        for _ in range(3):  # past every lease: nothing is taken again
            clock.advance(minutes=6)
            drain()
    session.expire_all()
    ghost, text_row = session.get(Outbox, ghost.id), session.get(Outbox, text_row.id)
    assert ghost.state == "dead" and ghost.last_error.startswith("card update failed")
    assert text_row.state == "sent" and fake.texts_to(staff[0]) == ["照常送达"]
    assert len(dead_lines(caplog, f"outbox {ghost.id} dead")) == 1


def test_an_event_whose_payload_no_longer_reads_fails_alone(
    client, clock, session, fake, staff, drain, caplog
):
    """A payload none of our adapters wrote (a database writer changed it) is dead-lettered
    with the reason, once; the message after it is handled."""
    bad = InboundEvent(platform="dingtalk", dedupe_key="msg:edited", payload={"kind": "暗号"},
                       received_at=clock.now())  # fmt: skip
    session.add(bad)
    session.commit()
    say(client, clock, staff[0], "积分")
    with caplog.at_level(logging.INFO):
        drain()
        for _ in range(3):
            clock.advance(minutes=6)
            drain()
    bad, fine = events(session)
    assert bad.state == "failed" and bad.error.startswith("payload unreadable")
    assert fine.state == "done" and fake.texts_to(staff[0])
    assert len(dead_lines(caplog, f"inbound event {bad.id} dead")) == 1
