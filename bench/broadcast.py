"""`python -m bench broadcast`: an important notice (one shared 已读 card) to 10,000 employees on
WeCom, against the fake WeCom Open API (tests/fakes/wecom.py), through the real app, outbox and
delivery. Prints the medians of the enqueue time (the request's whole transaction), the API
calls, and the delivery time until every row is sent.

Baselines measured in the same run: enqueueing one ask per person with `asks.open_ask` (what a
feature would do without shared cards), and delivering the same rows one `message/send` per
person (batch keys cleared).

Options: --people N (10000), --repeat N (3), --baseline-repeat N (1), --database URL (a fresh
SQLite file by default; a PostgreSQL URL is emptied first).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text, update

from bot.app import bot_state, create_app
from bot.asks import open_ask
from bot.clock import FixedClock
from bot.config import load_config
from bot.db import make_engine, session_scope, upgrade
from bot.models import Employee, Identity, Outbox, Role
from bot.notices import broadcasts as notices
from bot.services.broadcasts import send_broadcast
from bot.services.workcal import load_calendar
from tests.fakes.wecom import FakeWecom, env

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)  # a Thursday morning: no quiet hours
TABLES = ("ask_log", "card_copies", "cards", "outbox", "asks", "kv_cache", "broadcasts")


def _reset(engine: Any, people: int) -> None:
    """Empty what a run writes and (re)create `people` workers with WeCom ids."""
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        if conn.scalar(select(Employee.id).limit(1)) is None:
            created = NOW
            conn.execute(
                insert(Employee),
                [{"employee_no": f"B{i:05d}", "name": f"工人{i}", "role": Role.WORKER,
                  "active": True, "created_at": created} for i in range(people)],
            )  # fmt: skip
            ids = list(conn.scalars(select(Employee.id).order_by(Employee.id)))
            conn.execute(
                insert(Identity),
                [{"employee_id": e, "platform": "wecom", "external_id": f"u{i:05d}"}
                 for i, e in enumerate(ids)],
            )  # fmt: skip


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _deliver(state: Any) -> None:
    while state.worker.deliver_outbox():
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench broadcast")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-repeat", type=int, default=1)
    parser.add_argument("--database")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    url = args.database or f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    fake = FakeWecom().start()
    engine = make_engine(url)
    config = load_config({
        "DATABASE_URL": url, "BOT_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "BOT_MEDIA_DIR": str(tmp / "media"), "BOT_VAR_DIR": str(tmp / "var"),
        "BOT_ENV": "test", **env(fake),
    })  # fmt: skip
    app = create_app({"CONFIG": config, "CLOCK": FixedClock(NOW), "ENGINE": engine})
    state = bot_state(app)
    state.adapters.pop("local", None)  # WeCom only: every employee is reached there
    results: dict[str, list[float]] = {k: [] for k in ("enqueue", "calls", "deliver")}
    base: dict[str, list[float]] = {k: [] for k in ("enqueue", "calls", "deliver")}

    def shared() -> None:
        with session_scope(state.session_factory) as session:
            send_broadcast(
                session, title="安全培训", text="周六 8:30 三楼会议室全员安全培训", important=True,
                to="all", now=NOW, signer=state.signer,
                calendar=load_calendar(session, TZ, NOW.date()),
            )  # fmt: skip

    def one_by_one() -> None:
        with session_scope(state.session_factory) as session:
            card = notices.read_card("安全培训", "周六 8:30 三楼会议室全员安全培训")
            for person in session.scalars(select(Employee).order_by(Employee.id)):
                open_ask(session, kind=notices.READ_KIND, owner=person, title="安全培训",
                         card=card, choices=notices.read_choices(), now=NOW,
                         signer=state.signer, subject="broadcast:0",
                         policy=notices.READ_POLICY)  # fmt: skip

    def run(into: dict[str, list[float]], enqueue: Callable[[], None], batched: bool) -> None:
        _reset(engine, args.people)
        into["enqueue"].append(_timed(enqueue))
        if not batched:
            with engine.begin() as conn:
                conn.execute(update(Outbox).values(batch_key=None))
        before = len(fake.calls("message/send"))
        into["deliver"].append(_timed(lambda: _deliver(state)))
        into["calls"].append(len(fake.calls("message/send")) - before)
        with engine.connect() as conn:
            pending = conn.scalar(select(Outbox.id).where(Outbox.state != "sent").limit(1))
        assert pending is None, "every row must be sent"

    try:
        for _ in range(args.repeat):
            run(results, shared, batched=True)
        for _ in range(args.baseline_repeat):
            run(base, one_by_one, batched=False)
    finally:
        state.worker.stop()
        engine.dispose()
        fake.stop()
    med = {k: statistics.median(v) for k, v in results.items()}
    bmed = {k: statistics.median(v) for k, v in base.items()}
    dialect = url.split(":", 1)[0]
    print(f"broadcast of an important notice to {args.people} employees on WeCom ({dialect})")
    print(f"  runs: {args.repeat} shared-card, {args.baseline_repeat} baseline (medians)")
    print(f"  enqueue   shared card {med['enqueue']:.3f} s | one ask per person "
          f"{bmed['enqueue']:.3f} s | ratio {bmed['enqueue'] / med['enqueue']:.1f}x")  # fmt: skip
    print(f"  API calls batch send {med['calls']:.0f} | one send per person "
          f"{bmed['calls']:.0f} | ratio {bmed['calls'] / med['calls']:.1f}x")  # fmt: skip
    print(f"  delivery  batch send {med['deliver']:.3f} s | one send per person "
          f"{bmed['deliver']:.3f} s | ratio {bmed['deliver'] / med['deliver']:.1f}x")  # fmt: skip
    return 0
