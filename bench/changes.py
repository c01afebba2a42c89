"""`python -m bench changes`: one engineering change reaching 500 owners (issue 11).

The owners are split over WeCom, DingTalk and Feishu, each served by the test suite's fake Open
API in a process of its own. A change naming five modules of 100 owners each is POSTed to the
real API (Flask test client, the app's own transaction); then the real delivery runtime
(Worker → Delivery, 8 send threads, the platforms' per-person pacing from bot/platforms.py)
delivers every card to the fakes. Printed, as medians of the runs:

* time until every ask is enqueued: the POST, from request to committed 201 (goal < 2 s);
  baseline in the same run: the same 500 asks opened one at a time with `asks.open_ask`
  (flushed, then rolled back);
* time until every card is delivered, overall and per platform (goal < 2 min, the seeds'
  figure); baseline in the same run: 500 plain texts to the same people, same runtime.

SQLite (a temporary file) and PostgreSQL (database `bench_changes` on the server of --pg,
created if missing; the tests' databases are never touched).

    python -m bench changes [--owners 500] [--runs 3] [--skip-pg]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from bench.callbacks import bot_env, fake_env, serve_fake
from bot import asks
from bot.db import make_engine, session_scope, upgrade
from bot.models import Ask, Change, Department, Employee, Identity, ModuleOwner, Outbox, Role
from bot.notices import change_cards as cards
from bot.notices import changes as notices
from bot.outbox import enqueue_many
from cards import Text

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "bench_changes"
TOKEN = "bench-api-token-0123456789"
PLATFORMS = ("wecom", "dingtalk", "feishu")
MODULES = 5
GOAL_ENQUEUE_S = 2.0
GOAL_DELIVERY_S = 120.0
DELIVERY_TIMEOUT_S = 300.0


def _pg_url(base: str) -> str:
    """Create the bench database next to `base` if needed; return its URL."""
    url = make_url(base)
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DB})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return url.set(database=BENCH_DB).render_as_string(hide_password=False)


def _empty(url: str) -> None:
    """Start the bench database from nothing but the migrations' seeds."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("TRUNCATE employees, departments, outbox, cards RESTART IDENTITY CASCADE")
            )
    engine.dispose()


def _seed(state: Any, owners: int) -> list[int]:
    """An author and `owners` owners in MODULES modules, spread over the three platforms, each
    preferring theirs; returns the owners' ids."""
    now = state.clock.now()
    with session_scope(state.session_factory) as s:
        dept = Department(path="冲压车间", name="冲压车间")
        boss = Employee(employee_no="S0001", name="王主管", role=Role.SUPERVISOR, department=dept,
                        preferred_platform="wecom", created_at=now)  # fmt: skip
        author = Employee(employee_no="ENG01", name="赵工", department=dept,
                          preferred_platform="wecom", created_at=now)  # fmt: skip
        s.add_all([dept, boss, author])
        s.flush()
        s.add_all([Identity(employee_id=boss.id, platform="wecom", external_id="wboss"),
                   Identity(employee_id=author.id, platform="wecom", external_id="weng")])  # fmt: skip
        rows = [
            {"employee_no": f"W{i:05d}", "name": f"员工{i}", "role": "worker",
             "department_id": dept.id, "supervisor_id": boss.id, "active": True,
             "preferred_platform": PLATFORMS[i % 3], "created_at": now}
            for i in range(owners)
        ]  # fmt: skip
        s.execute(insert(Employee), rows)
        workers = select(Employee.id).where(Employee.employee_no.like("W%"))
        ids = list(s.scalars(workers.order_by(Employee.id)))
        s.execute(insert(Identity), [
            {"employee_id": eid, "platform": PLATFORMS[i % 3], "external_id": f"{PLATFORMS[i % 3][:2]}u{i}"}
            for i, eid in enumerate(ids)
        ])  # fmt: skip
        s.execute(insert(ModuleOwner), [
            {"module": f"模块{i % MODULES}", "employee_id": eid, "created_at": now}
            for i, eid in enumerate(ids)
        ])  # fmt: skip
    return ids


def _body(number: str) -> dict[str, Any]:
    return {
        "source": "plm", "external_id": number, "version": "B", "title": "3号模具冲头尺寸变更",
        "description": "冲头直径 12.00 → 12.05 mm，首件需重测。", "effective_date": "2026-12-31",
        "author": "ENG01", "notify": ["S0001"], "retest_due_hours": 24,
        "impacts": [{"module": f"模块{m}", "object": f"{m + 1}号模具", "action": "重测首件尺寸",
                     "hours": 2, "compensation_points": 5} for m in range(MODULES)],
    }  # fmt: skip


def _pending(state: Any) -> int:
    with session_scope(state.session_factory) as s:
        due = Outbox.state.in_(("pending", "sending"))
        return int(s.scalar(select(func.count(Outbox.id)).where(due)) or 0)


def _deliver_all(state: Any) -> float:
    """Run the real delivery until the outbox is empty; seconds taken."""
    t0 = time.perf_counter()
    while _pending(state):
        if not state.worker.deliver_outbox():
            time.sleep(0.05)  # held back by pacing: wait as the worker thread would
        if time.perf_counter() - t0 > DELIVERY_TIMEOUT_S:
            raise RuntimeError(f"outbox not delivered after {DELIVERY_TIMEOUT_S:.0f} s")
    return time.perf_counter() - t0


def _per_platform(state: Any, change_id: int, start: datetime) -> dict[str, float]:
    """Seconds from the POST to the last card of the change delivered, per platform."""
    with session_scope(state.session_factory) as s:
        keys = [
            f"ask:{a}"
            for a in s.scalars(select(Ask.id).where(Ask.subject == f"change:{change_id}"))
        ]
        rows = s.execute(
            select(Outbox.platform, func.max(Outbox.sent_at))
            .where(Outbox.card_key.in_(keys), Outbox.kind == "send")
            .group_by(Outbox.platform)
        ).all()
    return {p: (last - start).total_seconds() for p, last in rows}


def _one_by_one(state: Any, owner_ids: list[int]) -> float:
    """Baseline: the same asks opened one at a time with open_ask (flushed, rolled back)."""
    factory = state.session_factory
    s = factory()
    try:
        change = s.scalars(select(Change).order_by(Change.id.desc()).limit(1)).one()
        people = list(s.scalars(select(Employee).where(Employee.id.in_(owner_ids))))
        card = cards.impact_card(change, [])
        choices = notices.impact_choices(change)
        now = state.clock.now()
        t0 = time.perf_counter()
        for person in people:
            asks.open_ask(s, kind=notices.IMPACT_KIND, owner=person, title=notices.impact_title(change),
                          card=card, choices=choices, now=now, signer=state.signer,
                          subject=f"change:{change.id}", policy=notices.POLICY)  # fmt: skip
        s.flush()
        return time.perf_counter() - t0
    finally:
        s.rollback()
        s.close()


def _texts(state: Any, owner_ids: list[int]) -> float:
    """Baseline: one plain text to each owner, delivered by the same runtime."""
    with session_scope(state.session_factory) as s:
        payload = Text("变更通知：3号模具冲头尺寸变更，请查看。").to_dict()
        enqueue_many(s, [(eid, payload) for eid in owner_ids], state.clock.now())
    return _deliver_all(state)


@dataclass
class Runs:
    """Timings of one database, one list per measure."""

    enqueue: list[float] = field(default_factory=list)
    one_by_one: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    texts: list[float] = field(default_factory=list)
    platforms: dict[str, list[float]] = field(default_factory=dict)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_database(label: str, url: str, owners: int, runs: int, fakes: dict[str, str]) -> Runs:
    """Seed, then POST `runs` changes and deliver each; returns the timings."""
    from bot.app import bot_state, create_app
    from bot.config import load_config

    upgrade(url)
    _empty(url)
    with tempfile.TemporaryDirectory() as media:
        env = {**bot_env(url, media), "BOT_ENV": "test", "BOT_API_TOKEN": TOKEN}
        for platform, base in fakes.items():
            env.update(fake_env(platform, base))
        app = create_app({"CONFIG": load_config(env)})
        state = bot_state(app)
        client = app.test_client()
        owner_ids = _seed(state, owners)
        out = Runs()
        try:
            # A running service is warm: one small change first (SQL compiled, modules loaded).
            warm = {**_body(f"ECO-WARM-{time.time_ns()}"), "impacts": [_body("")["impacts"][0]]}
            client.post("/api/v1/changes", json=warm, headers={"Authorization": f"Bearer {TOKEN}"})
            _deliver_all(state)
            for run in range(runs):
                start = datetime.now(UTC)
                t0 = time.perf_counter()
                response = client.post("/api/v1/changes", json=_body(f"ECO-BENCH-{run}-{time.time_ns()}"),
                                       headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
                out.enqueue.append(time.perf_counter() - t0)
                assert response.status_code == 201, response.get_json()
                change_id = response.get_json()["id"]
                with session_scope(state.session_factory) as s:
                    opened = s.scalar(
                        select(func.count(Ask.id)).where(Ask.subject == f"change:{change_id}")
                    )
                    queued = s.scalar(
                        select(func.count(Outbox.id)).where(Outbox.state == "pending")
                    )
                assert opened == owners + 1 and queued == owners + 2, (opened, queued)
                out.delivery.append(_deliver_all(state))
                for platform, seconds in _per_platform(state, change_id, start).items():
                    out.platforms.setdefault(platform, []).append(seconds)
                out.one_by_one.append(_one_by_one(state, owner_ids))
                out.texts.append(_texts(state, owner_ids))
                print(f"[{label}] run {run + 1}: enqueued in {out.enqueue[-1]:.2f} s, "
                      f"delivered in {out.delivery[-1]:.1f} s")  # fmt: skip
        finally:
            state.worker.delivery.close()
            state.engine.dispose()
    return out


def report(label: str, owners: int, out: Runs) -> None:
    """Print medians, ratios and the goals."""
    enq, base = _median(out.enqueue), _median(out.one_by_one)
    dlv, txt = _median(out.delivery), _median(out.texts)
    print(f"[{label}] {owners} owners: every ask enqueued (POST → 201) median {enq:.3f} s"
          f"   baseline open_ask one by one {base:.3f} s   ratio {base / enq:.1f}x"
          f"   goal < {GOAL_ENQUEUE_S:.0f} s {'met' if enq < GOAL_ENQUEUE_S else 'MISSED'}")  # fmt: skip
    per = "  ".join(f"{p} {_median(v):.1f} s" for p, v in sorted(out.platforms.items()))
    print(f"[{label}] every card delivered median {dlv:.1f} s ({per} after the POST)"
          f"   baseline {owners} plain texts {txt:.1f} s   ratio {dlv / txt:.2f}x"
          f"   goal < {GOAL_DELIVERY_S:.0f} s {'met' if dlv < GOAL_DELIVERY_S else 'MISSED'}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run on PostgreSQL (if reachable) and SQLite; print medians."""
    parser = argparse.ArgumentParser(prog="python -m bench changes")
    parser.add_argument("--owners", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default=DEFAULT_PG, help="server URL (its database is not used)")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    procs, fakes = [], {}
    for platform in PLATFORMS:
        proc, base = serve_fake(platform)
        procs.append(proc)
        fakes[platform] = base
    print(f"one change, {args.owners} owners in {MODULES} modules over {', '.join(PLATFORMS)} "
          f"(fakes in their own processes); median of {args.runs} runs; 2-core shared machine")  # fmt: skip
    try:
        targets: list[tuple[str, Callable[[], str]]] = []
        if not args.skip_pg:
            targets.append(("postgresql", lambda: _pg_url(args.pg)))
        tmp = tempfile.mkdtemp(prefix="bench-changes-")
        targets.append(("sqlite", lambda: f"sqlite:///{Path(tmp) / 'bench.db'}"))
        for label, url_of in targets:
            try:
                url = url_of()
            except Exception as exc:  # no server: say so and go on with SQLite
                print(f"[{label}] skipped: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            report(label, args.owners, bench_database(label, url, args.owners, args.runs, fakes))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    return 0
