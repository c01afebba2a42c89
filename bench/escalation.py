"""`python -m bench escalation`: one escalation tick over 100,000 open asks (1,000 due), and a
broadcast queued to 10,000 employees, on PostgreSQL and SQLite. Prints medians of ≥ 5 runs.

PostgreSQL: a database of its own, `bench_escalation`, created on the server of
BENCH_DATABASE_URL (default: the tests' `postgresql+psycopg://postgres@127.0.0.1:5432/test`);
the tests' schema is never touched. SQLite: a temporary file.

Baselines measured in the same run: for the tick, reading every open ask (what a tick without
`next_step_at` and its index would have to do); for the broadcast, `outbox.enqueue` per person.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot import asks
from bot.asks.build import steps_of
from bot.db import make_engine, make_session_factory, upgrade
from bot.jobs.common import queue_to
from bot.models import (
    Ask,
    AskLog,
    AskState,
    CardState,
    Department,
    Employee,
    EscalationPolicy,
    Outbox,
)
from bot.notices.tasks import alert_choices
from bot.outbox import enqueue
from bot.signing import Signer
from cards import Card

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)  # a Thursday morning: no quiet hours
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "bench_escalation"
SIGNER = Signer("bench-secret-key-0123456789abcdef")


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


def _seed(engine: Engine, employees: int, tasks: int, due: int) -> list[int]:
    """Fresh people and open task-alert asks; returns the ids of the due asks."""
    factory = make_session_factory(engine)
    with factory() as s:
        if engine.dialect.name == "postgresql":  # the bench's own database: start from empty
            s.execute(text("TRUNCATE employees, departments RESTART IDENTITY CASCADE"))
        else:
            for table in (AskLog, Outbox, CardState, Ask):
                s.execute(delete(table))
            s.execute(update(Employee).values(supervisor_id=None))
            s.execute(delete(Employee))
            s.execute(delete(Department))
        s.commit()
        dept = Department(path="基准车间", name="基准车间")
        s.add(dept)
        s.flush()
        bosses = employees // 20
        s.execute(
            insert(Employee),
            [
                {
                    "employee_no": f"S{i:05d}",
                    "name": f"主管{i}",
                    "role": "supervisor",
                    "department_id": dept.id,
                    "active": True,
                    "created_at": NOW,
                }
                for i in range(bosses)
            ],
        )
        boss_ids = list(s.scalars(select(Employee.id).order_by(Employee.id)))
        s.execute(
            insert(Employee),
            [
                {
                    "employee_no": f"W{i:05d}",
                    "name": f"员工{i}",
                    "role": "worker",
                    "department_id": dept.id,
                    "supervisor_id": boss_ids[i % bosses],
                    "active": True,
                    "created_at": NOW,
                }
                for i in range(employees - bosses)
            ],
        )
        workers = list(
            s.scalars(select(Employee.id).where(Employee.role == "worker").order_by(Employee.id))
        )
        policy = s.scalars(select(EscalationPolicy).where(EscalationPolicy.name == "overdue")).one()
        steps = steps_of(policy)
        choices = [c.to_dict() for c in alert_choices()]
        rows = []
        for i in range(tasks):
            is_due = i % (tasks // due) == 0
            next_at = NOW - timedelta(minutes=1) if is_due else NOW + timedelta(minutes=1 + i)
            due_at = next_at - timedelta(hours=4)
            title = f"工单 {i} 逾期"
            rows.append(
                {
                    "kind": "task_alert",
                    "subject": f"task:{i}",
                    "owner_id": workers[i % len(workers)],
                    "delegate_ids": [],
                    "title": title,
                    "card": {"title": title, "lines": [], "image": None, "note": None,
                             "extra": {}, "fields": [["负责人", "员工"], ["截止", "11-26 06:00"],
                                                     ["级别", "普通"]]},
                    "choices": choices,
                    "state": AskState.OPEN,
                    "severity": "normal",
                    "told_may_answer": True,
                    "anonymous": False,
                    "created_at": NOW,
                    "due_at": due_at,
                    "anchor_at": due_at,
                    "policy": "overdue",
                    "policy_title": policy.title,
                    "steps": steps,
                    "step": 0,
                    "next_step_at": next_at,
                }
            )  # fmt: skip
        for start in range(0, len(rows), 10_000):
            s.execute(insert(Ask), rows[start : start + 10_000])
        s.commit()
        due_ids = list(s.scalars(select(Ask.id).where(Ask.next_step_at <= NOW)))
        if engine.dialect.name == "postgresql":
            s.execute(text("ANALYZE"))
            s.commit()
    return due_ids


def _reset_due(engine: Engine, due_ids: list[int]) -> None:
    with make_session_factory(engine)() as s:
        for table in (AskLog, Outbox, CardState):
            s.execute(delete(table))
        s.execute(
            update(Ask)
            .where(Ask.id.in_(due_ids))
            .values(step=0, next_step_at=NOW - timedelta(minutes=1))
        )
        s.commit()


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _tick(engine: Engine) -> None:
    with make_session_factory(engine)() as s:
        report = asks.tick(s, NOW, signer=SIGNER, tz=TZ)
        s.commit()
    assert report.notified >= report.due > 0, report


def _scan_all_open(engine: Engine) -> None:
    with Session(engine) as s:
        list(s.scalars(select(Ask).where(Ask.state == AskState.OPEN)))


def _broadcast(engine: Engine, per_row: bool) -> None:
    card = Card(title="🏆 基准车间 上周积分 TOP5", lines=("🥇 员工1 60 分 ↑1",) * 5)
    with make_session_factory(engine)() as s:
        people = list(s.scalars(select(Employee).order_by(Employee.id)))
        if per_row:
            for person in people:
                enqueue(s, card, now=NOW, recipient=person)
        else:
            queue_to(s, card, people, NOW)
        s.commit()
        s.execute(delete(Outbox))
        s.commit()


def _median(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms"


def bench_database(label: str, url: str, runs: int, employees: int, tasks: int, due: int) -> None:
    """Seed, then time the tick, the full-scan baseline and both broadcasts."""
    upgrade(url)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        due_ids = _seed(engine, employees, tasks, due)
        print(f"[{label}] seeded {employees} employees, {tasks} open asks ({len(due_ids)} due) "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        ticks, scans, bulk, rows = [], [], [], []
        for _ in range(runs):
            _reset_due(engine, due_ids)
            ticks.append(_timed(lambda: _tick(engine)))
            scans.append(_timed(lambda: _scan_all_open(engine)))
            bulk.append(_timed(lambda: _broadcast(engine, per_row=False)))
            rows.append(_timed(lambda: _broadcast(engine, per_row=True)))
        tick, scan = statistics.median(ticks), statistics.median(scans)
        b, r = statistics.median(bulk), statistics.median(rows)
        print(f"[{label}] escalation tick ({len(due_ids)} due of {tasks}): {_median(ticks)}"
              f"   baseline: read all open asks {_median(scans)}   ratio {scan / tick:.1f}x")  # fmt: skip
        print(f"[{label}] broadcast to {employees} employees queued: {_median(bulk)}"
              f"   baseline: enqueue() per person {_median(rows)}   ratio {r / b:.1f}x")  # fmt: skip
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run on PostgreSQL (if reachable) and SQLite; print medians."""
    parser = argparse.ArgumentParser(prog="python -m bench escalation")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--pg", default=DEFAULT_PG, help="server URL (its database is not used)")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    print(f"median of {args.runs} runs each")
    if not args.skip_pg:
        try:
            pg = _pg_url(args.pg)
        except Exception as exc:  # no server: say so and go on with SQLite
            print(f"[postgresql] skipped: {type(exc).__name__}: {str(exc)[:120]}")
        else:
            bench_database("postgresql", pg, args.runs, args.employees, args.tasks, args.due)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        bench_database("sqlite", url, args.runs, args.employees, args.tasks, args.due)
    return 0
