"""Leases renewed by heartbeat (bot/runtime/leases.py), through WeCom callbacks and its fake API:
a worker that dies holding an inbound event or an outbox row has it taken over by another worker
within 30 s of its last heartbeat and not before; a live worker however slow keeps its rows, and
nothing is handled or sent twice. The last test kills a real `python -m bot worker` mid-send with
SIGKILL and measures the takeover on the wall clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import bot_state, create_app
from bot.clock import Clock
from bot.config import load_config
from bot.models import Identity, InboundEvent, Outbox
from bot.outbox import enqueue
from bot.runtime.leases import HEARTBEAT, LEASE, MAX_HOLD
from bot.runtime.worker import Worker
from cards import Text
from tests.conftest import ROOT, SECRET
from tests.factories import make_team, photo_bytes
from tests.fakes.server import Recorded, Reply
from tests.fakes.wecom import FakeWecom, WecomCallbacks, env

WORKER = "zhangsan"
TAKEOVER_LIMIT = 30  # seconds after a worker's death (issue 15)


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


class Hang:
    """Holds the next call of a WeCom API inside the fake until released: the platform is slow,
    or the worker waiting on it is dead."""

    def __init__(self, fake: FakeWecom, name: str):
        self.entered, self.released = threading.Event(), threading.Event()
        fake.on_next_call(name, self._hold)

    def _hold(self, _rec: Recorded) -> None:
        self.entered.set()
        self.released.wait(30)


class Run:
    """A worker step (process_inbound, deliver_outbox) in a real thread of its own."""

    def __init__(self, step: Callable[[], int]):
        self.results: list[int] = []
        self.thread = threading.Thread(target=lambda: self.results.append(step()))
        self.thread.start()

    def join(self) -> list[int]:
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.results


def take_over(clock: Any, step: Callable[[], int]) -> int:
    """Move the clock a second at a time until `step` takes something; the seconds waited."""
    waited = 0
    while not step():
        assert waited < TAKEOVER_LIMIT, "not taken over in time"
        clock.advance(seconds=1)
        waited += 1
    return waited


def pickers(fake: FakeWecom) -> list[dict[str, Any]]:
    return [c for c in fake.cards(WORKER) if c["main_title"]["title"].startswith("选择申领规则")]


def test_a_dead_workers_message_is_taken_over_within_30_seconds_of_its_last_beat(
    state, fake, clock, session, worker
):
    row = enqueue(session, Text("审核结果"), now=clock.now(), recipient=worker)
    session.commit()
    hang = Hang(fake, "message/send")
    fake.fail_next("message/send", Reply(502, {"errcode": -1}))  # what the dead one hears back
    dead = Worker(state)
    run = Run(dead.deliver_outbox)
    assert hang.entered.wait(10)
    for _ in range(3):  # alive for a while, then gone without releasing anything
        clock.advance(seconds=HEARTBEAT.total_seconds())
        assert dead.heartbeat() == 1
    taker = Worker(state)
    waited = take_over(clock, taker.deliver_outbox)
    print(f"\noutbox row taken over {waited} s after the dead worker's last heartbeat")
    assert waited == LEASE.total_seconds() <= TAKEOVER_LIMIT
    # The dead worker's late answer changes nothing: the row is the taker's, sent once.
    hang.released.set()
    assert run.join() == [0]
    session.expire_all()
    row = session.get(Outbox, row.id)
    assert (row.state, row.attempts) == ("sent", 2)
    assert fake.texts(WORKER) == ["审核结果"]
    dead.delivery.close()
    taker.delivery.close()


def test_a_dead_workers_event_is_taken_over_within_30_seconds_of_its_last_beat(
    state, fake, wecom, clock, session, worker
):
    fake.media["M1"] = photo_bytes(1)
    hang = Hang(fake, "media/get")
    wecom.image(WORKER, "M1")
    dead = Worker(state)
    run = Run(dead.process_inbound)
    assert hang.entered.wait(10)
    clock.advance(seconds=HEARTBEAT.total_seconds())
    assert dead.heartbeat() == 1
    taker = Worker(state)
    waited = take_over(clock, taker.process_inbound)
    print(f"\ninbound event taken over {waited} s after the dead worker's last heartbeat")
    assert waited == LEASE.total_seconds() <= TAKEOVER_LIMIT
    hang.released.set()
    assert run.join() == [0]  # lease lost, result discarded
    taker.drain()
    session.expire_all()
    event = session.scalars(select(InboundEvent)).one()
    assert (event.state, event.attempts) == ("done", 2)
    assert len(pickers(fake)) == 1
    dead.delivery.close()
    taker.delivery.close()


def test_a_slow_live_worker_keeps_its_messages_and_sends_each_once(
    state, fake, clock, session, worker
):
    rows = [
        enqueue(session, Text(text), now=clock.now(), recipient=worker)
        for text in ("第一条", "第二条")
    ]
    session.commit()
    hang = Hang(fake, "message/send")  # WeCom takes a minute to answer the first send
    live, other = state.worker, Worker(state)
    run = Run(live.deliver_outbox)
    assert hang.entered.wait(10)
    for _ in range(12):
        clock.advance(seconds=HEARTBEAT.total_seconds())
        assert live.heartbeat() == 2
        assert other.deliver_outbox() == 0
    hang.released.set()
    # Its leases renewed, the live worker sends the second message too in the same batch.
    assert run.join() == [2]
    session.expire_all()
    assert [
        (session.get(Outbox, r.id).state, session.get(Outbox, r.id).attempts) for r in rows
    ] == [
        ("sent", 1),
        ("sent", 1),
    ]
    assert fake.texts(WORKER) == ["第一条", "第二条"]
    assert len(fake.calls("message/send")) == 2
    other.delivery.close()


def test_a_worker_stuck_in_one_send_lets_its_rows_go_after_the_longest_hold(
    state, fake, clock, session, worker
):
    row = enqueue(session, Text("卡住的一条"), now=clock.now(), recipient=worker)
    session.commit()
    hang = Hang(fake, "message/send")  # the platform never finishes answering
    live, other = state.worker, Worker(state)
    run = Run(live.deliver_outbox)
    assert hang.entered.wait(10)
    beats = int(MAX_HOLD / HEARTBEAT)
    for _ in range(beats):
        clock.advance(seconds=HEARTBEAT.total_seconds())
        live.heartbeat()
        assert other.deliver_outbox() == 0  # alive and beating: its row is its own
    clock.advance(seconds=HEARTBEAT.total_seconds())
    assert live.heartbeat() == 0  # held too long: no longer renewed
    clock.advance(seconds=LEASE.total_seconds())
    assert other.deliver_outbox() == 1  # taken over and sent by the other worker
    hang.released.set()  # the stuck send ends at last: its outcome is not recorded over
    run.join()
    session.expire_all()
    assert (session.get(Outbox, row.id).state, session.get(Outbox, row.id).attempts) == ("sent", 2)
    other.delivery.close()


def test_a_slow_live_worker_keeps_its_event_and_its_result(
    state, fake, wecom, clock, session, worker
):
    fake.media["M2"] = photo_bytes(2)
    hang = Hang(fake, "media/get")  # the photo takes a minute to download
    wecom.image(WORKER, "M2")
    live, other = state.worker, Worker(state)
    run = Run(live.process_inbound)
    assert hang.entered.wait(10)
    for _ in range(12):
        clock.advance(seconds=HEARTBEAT.total_seconds())
        assert live.heartbeat() == 1
        assert other.process_inbound() == 0
    hang.released.set()
    assert run.join() == [1]
    live.drain()
    session.expire_all()
    event = session.scalars(select(InboundEvent)).one()
    assert (event.state, event.attempts) == ("done", 1)
    assert len(fake.calls("media/get")) == 1 and len(pickers(fake)) == 1
    other.delivery.close()


def test_a_killed_worker_process_is_taken_over_within_30_seconds(
    db_url, fake, session, worker, tmp_path: Path
):
    """Real processes, real clock: a `python -m bot worker` holding a row mid-send is killed
    with SIGKILL; a live worker (its own heartbeat and loop) sends the row once."""
    process_env = {
        "DATABASE_URL": db_url, "BOT_SECRET_KEY": SECRET, "BOT_MEDIA_DIR": str(tmp_path / "media"),
        "BOT_VAR_DIR": str(tmp_path / "var"), "BOT_ENV": "test", **env(fake),
    }  # fmt: skip
    clock = Clock()
    row = enqueue(session, Text("审核结果"), now=clock.now(), recipient=worker)
    session.commit()
    hang = Hang(fake, "message/send")
    # The send dies with the worker: not acted on, and no answer goes back.
    fake.fail_next("message/send", Reply(502, {"errcode": -1}))
    fake.server.lose_answers("POST", "/cgi-bin/message/send")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"], cwd=ROOT, env={**os.environ, **process_env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert hang.entered.wait(60), "the worker process never sent"
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        hang.released.set()
    session.expire_all()
    assert (session.get(Outbox, row.id).state, session.get(Outbox, row.id).attempts) == (
        "sending",
        1,
    )
    taker = bot_state(create_app({"CONFIG": load_config(process_env), "CLOCK": clock}))
    taker.worker.start()
    try:
        pause = threading.Event()
        while not fake.texts(WORKER) and time.monotonic() - killed < 2 * TAKEOVER_LIMIT:
            pause.wait(0.05)
        took = time.monotonic() - killed
    finally:
        taker.worker.stop()
        taker.engine.dispose()
    print(f"\ntakeover of a SIGKILLed worker's row: {took:.1f} s (wall clock)")
    # Not before the lease its last heartbeat renewed runs out.
    assert (LEASE - HEARTBEAT).total_seconds() <= took <= TAKEOVER_LIMIT
    session.commit()  # a fresh snapshot
    session.expire_all()
    assert (session.get(Outbox, row.id).state, session.get(Outbox, row.id).attempts) == ("sent", 2)
    assert fake.texts(WORKER) == ["审核结果"]
