"""The worker under faults, through WeCom callbacks and its fake API: inbound events that fail are
retried with backoff, taken up again after a dead worker, and never dropped without telling the
sender; a slow outbox batch leaves what it cannot start in time to the next lease."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from bot.models import Claim, Identity, InboundEvent, Outbox
from bot.notices.system import DOWNLOAD_FAILED, HANDLING_FAILED, RETRYING
from bot.outbox import enqueue
from bot.runtime.worker import INBOUND_LEASE, Worker
from bot.services.evidence import store_photo
from cards import Card, Text
from tests.factories import make_team, photo_bytes
from tests.fakes.server import Reply
from tests.fakes.wecom import FakeWecom, WecomCallbacks, env

WORKER = "zhangsan"


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    server = FakeWecom().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake: FakeWecom) -> dict[str, str]:
    return env(fake)


@pytest.fixture
def wecom(client: Any, clock: Any) -> WecomCallbacks:
    return WecomCallbacks(client, lambda: int(clock.now().timestamp()))


@pytest.fixture
def worker(session: Any) -> Any:
    """One worker with a WeCom userid (and a supervisor, so claims have an approver)."""
    _boss, (worker, _colleague) = make_team(session)
    session.add(Identity(employee=worker, platform="wecom", external_id=WORKER))
    session.commit()
    return worker


def event_row(session: Any) -> InboundEvent:
    session.expire_all()
    return session.scalars(select(InboundEvent)).one()


def picker_sent(fake: FakeWecom) -> bool:
    return any(c["main_title"]["title"].startswith("选择申领规则") for c in fake.cards(WORKER))


def test_failed_download_waits_its_backoff_then_succeeds(
    wecom, fake, drain, clock, session, worker
):
    fake.media["M1"] = photo_bytes(1)
    fake.fail_next("media/get", Reply(502, {"error": "bad gateway"}))
    wecom.image(WORKER, "M1")
    drain()
    row = event_row(session)
    assert row.state == "pending" and row.attempts == 1 and "502" in row.error
    assert row.next_attempt_at == clock.now() + timedelta(seconds=10)
    drain()  # not due yet
    assert len(fake.calls("media/get")) == 1
    clock.advance(seconds=10)
    drain()
    assert event_row(session).state == "done" and picker_sent(fake)


def test_download_failing_for_good_tells_the_sender_once(
    wecom, fake, drain, clock, session, worker
):
    fake.fail_next("media/get", Reply(502, {"error": "bad gateway"}), times=10)
    wecom.image(WORKER, "M2")
    for _ in range(6):
        drain()
        clock.advance(minutes=3)
    drain()
    row = event_row(session)
    assert row.state == "failed" and row.attempts == 5
    assert len(fake.calls("media/get")) == 5
    assert fake.texts(WORKER) == [DOWNLOAD_FAILED]


def test_download_refused_for_good_is_not_retried(wecom, fake, drain, session, worker):
    wecom.image(WORKER, "NO_SUCH_MEDIA")  # WeCom answers errcode 40007 invalid media_id
    drain()
    row = event_row(session)
    assert row.state == "failed" and row.attempts == 1
    assert fake.texts(WORKER) == [DOWNLOAD_FAILED]


def test_event_left_processing_by_a_dead_worker_is_taken_up_after_its_lease(
    wecom, fake, drain, clock, session, worker
):
    fake.media["M3"] = photo_bytes(3)
    wecom.image(WORKER, "M3")
    # What a worker killed mid-download leaves behind.
    session.execute(
        update(InboundEvent).values(
            state="processing", attempts=1, next_attempt_at=clock.now() + INBOUND_LEASE
        )
    )
    session.commit()
    drain()
    assert event_row(session).state == "processing" and not fake.calls("media/get")
    clock.advance(seconds=INBOUND_LEASE.total_seconds())
    drain()
    row = event_row(session)
    assert row.state == "done" and row.attempts == 2 and picker_sent(fake)


@pytest.fixture
def refuse_platform_updates(session: Any) -> Iterator[None]:
    """A database fault under the handler: changing an employee's last platform fails.

    Dropped afterwards: the PostgreSQL test database is reset by truncation, which keeps
    triggers and functions.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    if not sqlite:
        session.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$"
                " BEGIN RAISE EXCEPTION 'refused by test'; END $$ LANGUAGE plpgsql"
            )
        )
    session.execute(
        text(
            "CREATE TRIGGER refuse BEFORE UPDATE OF last_platform ON employees"
            + (
                " BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
                if sqlite
                else " FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )
    )
    session.commit()
    yield
    session.rollback()
    session.execute(text("DROP TRIGGER refuse" + ("" if sqlite else " ON employees")))
    if not sqlite:
        session.execute(text("DROP FUNCTION refuse()"))
    session.commit()


def test_a_message_that_keeps_failing_gets_an_apology_not_silence(
    wecom, fake, drain, clock, session, worker, refuse_platform_updates
):
    wecom.text(WORKER, "积分")
    for _ in range(6):
        drain()
        clock.advance(minutes=3)
    row = event_row(session)
    assert row.state == "failed" and row.attempts == 5 and "refused by test" in row.error
    # Told once that it is not lost, once that it was given up; nothing per retry.
    assert fake.texts(WORKER) == [RETRYING, HANDLING_FAILED.format(ref=row.id)]


def test_a_photo_that_cannot_be_stored_waits_for_the_disk_not_marked_done(
    state, wecom, fake, drain, clock, session, worker
):
    media = state.config.media_dir
    shutil.rmtree(media, ignore_errors=True)
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(b"")  # a file where the directory should be: unwritable even for root
    fake.media["M8"] = photo_bytes(8)
    wecom.image(WORKER, "M8")
    drain()
    row = event_row(session)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=10)
    assert fake.texts(WORKER) == [RETRYING] and not picker_sent(fake)
    media.unlink()  # the disk is back
    media.mkdir()
    clock.advance(seconds=10)
    drain()
    row = event_row(session)
    assert (row.state, row.attempts) == ("done", 2)
    pickers = [c for c in fake.cards(WORKER) if c["main_title"]["title"].startswith("选择申领规则")]
    assert len(pickers) == 1 and fake.texts(WORKER) == [RETRYING]
    pick = pickers[0]
    key = next(b["key"] for b in pick["button_list"] if b["text"].startswith("A01"))
    wecom.click(WORKER, pick["task_id"], key, "rc-pick")
    drain()
    claim = session.scalars(select(Claim)).one()
    assert claim.evidence_id is not None


def test_a_slow_batch_leaves_the_rest_to_the_next_lease(state, fake, drain, clock, session, worker):
    rows = [enqueue(session, Text(f"第{i}条"), now=clock.now(), recipient=worker) for i in range(3)]
    session.commit()
    send = fake.server.routes[("POST", "/cgi-bin/message/send")]

    def hanging_once(rec: Any) -> Reply:
        fake.server.route("POST", "/cgi-bin/message/send", send)
        clock.advance(minutes=4)  # WeCom took four minutes to answer
        return send(rec)

    fake.server.route("POST", "/cgi-bin/message/send", hanging_once)
    assert state.worker.deliver_outbox() == 1
    # No heartbeat renewed the lease meanwhile (none runs here): the rest waits, due now,
    # instead of being sent while another worker may take the same rows over.
    session.expire_all()
    held = [session.get(Outbox, r.id) for r in rows[1:]]
    assert [(r.state, r.attempts, r.next_attempt_at) for r in held] == [
        ("pending", 0, clock.now()),
        ("pending", 0, clock.now()),
    ]
    drain()
    assert fake.texts(WORKER) == ["第0条", "第1条", "第2条"]


def test_cards_with_photos_count_twice_against_wecom_pacing(
    state, fake, drain, clock, session, worker
):
    """WeCom drops messages above 30 a minute per member; a card with a photo is two."""
    evidence = store_photo(
        session, state.config.media_dir, worker, photo_bytes(4), source="test", now=clock.now()
    )
    session.commit()
    cards = [
        enqueue(
            session,
            Card(title=f"待审核申领 #{i}", image=f"evidence:{evidence.id}"),
            now=clock.now(),
            recipient=worker,
        )
        for i in range(16)
    ]
    session.commit()
    drain()
    sent = fake.sent(WORKER)
    assert len(sent) == 30 and [m["msgtype"] for m in sent[:2]] == ["image", "markdown"]
    session.expire_all()
    last = session.get(Outbox, cards[-1].id)
    assert last.state == "pending" and last.next_attempt_at == clock.now() + timedelta(seconds=60)
    clock.advance(seconds=61)
    drain()
    assert len(fake.sent(WORKER)) == 32


def test_a_worker_past_its_lease_does_not_undo_the_takeover(
    state, fake, wecom, drain, clock, session, worker
):
    fake.media["M5"] = photo_bytes(5)
    media_get = fake.server.routes[("GET", "/cgi-bin/media/get")]
    other = Worker(state)
    taken_over: list[int] = []

    def hanging_past_the_lease(rec: Any) -> Reply:
        fake.server.route("GET", "/cgi-bin/media/get", media_get)
        clock.advance(seconds=INBOUND_LEASE.total_seconds() + 1)
        taken_over.append(other.process_inbound())  # another worker takes over and finishes
        return media_get(rec)

    fake.server.route("GET", "/cgi-bin/media/get", hanging_past_the_lease)
    wecom.image(WORKER, "M5")
    assert state.worker.process_inbound() == 0  # the late result is rolled back
    other.delivery.close()
    drain()
    assert taken_over == [1]
    row = event_row(session)
    assert row.state == "done" and row.attempts == 2
    pickers = [c for c in fake.cards(WORKER) if c["main_title"]["title"].startswith("选择申领规则")]
    assert len(pickers) == 1


@pytest.mark.parametrize("attempts, lease", [(5, -1), (0, None)], ids=["died-5-times", "pre-0004"])
def test_events_left_processing_are_finished_or_given_up(
    wecom, fake, drain, clock, session, worker, attempts, lease
):
    fake.media["M6"] = photo_bytes(6)
    wecom.image(WORKER, "M6")
    until = None if lease is None else clock.now() + timedelta(seconds=lease)
    session.execute(
        update(InboundEvent).values(state="processing", attempts=attempts, next_attempt_at=until)
    )
    session.commit()
    drain()
    row = event_row(session)
    if attempts >= 5:
        # Workers died on it five times: not handled a sixth time, and the sender is told.
        assert row.state == "failed" and not fake.calls("media/get")
        assert fake.texts(WORKER) == [HANDLING_FAILED.format(ref=row.id)]
    else:
        assert row.state == "done" and picker_sent(fake)


def test_a_held_back_card_waits_for_its_window_and_keeps_its_place(
    state, fake, drain, clock, session, worker
):
    evidence = store_photo(
        session, state.config.media_dir, worker, photo_bytes(7), source="test", now=clock.now()
    )
    session.commit()
    start = clock.now()

    def card(title: str) -> Card:
        return Card(title=title, image=f"evidence:{evidence.id}")

    for i in range(14):  # 28 messages at 10:00:00
        enqueue(session, card(f"卡片{i}"), now=clock.now(), recipient=worker)
    session.commit()
    drain()
    clock.advance(seconds=30)
    enqueue(session, Text("第29条"), now=clock.now(), recipient=worker)
    session.commit()
    drain()
    assert len(fake.sent(WORKER)) == 29
    clock.advance(seconds=10)
    late_card = enqueue(session, card("卡片14"), now=clock.now(), recipient=worker)
    after = enqueue(session, Text("卡片之后"), now=clock.now(), recipient=worker)
    session.commit()
    drain()
    # The card needs two of the one slot left; it waits until the 10:00:00 messages age out
    # (the 10:00:30 text stays in the window), and the text behind it does not overtake it.
    session.expire_all()
    due = start + timedelta(seconds=60)
    assert [(r.state, r.next_attempt_at) for r in (late_card, after)] == [
        ("pending", due),
        ("pending", due),
    ]
    clock.advance(seconds=20)
    drain()
    assert [m["msgtype"] for m in fake.sent(WORKER)[-3:]] == ["image", "markdown", "text"]
