"""Ledger benchmark (issue 3): balance and department weekly TOP5 over a large ledger, and
appends (issue 15): keyed `append_entry` against the previous release's unkeyed append.

Loads N ledger entries (default 1,000,000; 10,000 employees in 50 departments, ~26 weeks) into a
dedicated database whose schema comes from the project's migrations, then times the project's
queries (`bot.services.ledger.balance` / `department_ranking`) against a hand-written raw SQL
GROUP BY in the same run, on SQLite and PostgreSQL.

Goal (issue 3): project/raw ratio <= 1.2 and project median < 200 ms on PostgreSQL.
Goal (issue 15): keyed appends no slower than unkeyed ones (bench/_appends.py).
Benchmarks print; they never assert.

    python -m bench ledger                       # both backends, 1,000,000 entries
    python -m bench ledger --backend sqlite --quick
    python -m bench ledger --reload --explain    # fresh data, print the query plans
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sqlite3
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Engine, bindparam, event, make_url, text
from sqlalchemy.orm import Session

from bench._appends import BENCH_KEY, AppendResult, measure_appends, report_appends
from bot.db import ROOT, current_and_head, make_engine, make_session_factory, upgrade
from bot.services.chain import GENESIS_HASH, LedgerKey
from bot.services.ledger import Standing, balance, department_ranking
from bot.timeutil import week_start

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_ledger"
EMPLOYEES = 10_000
DEPARTMENTS = 50
WEEKS = 26
SEED = 20261126
GOAL_RATIO = 1.2
GOAL_MS = 200.0
TZ = ZoneInfo("Asia/Shanghai")

WORKSHOPS = ["冲压", "焊装", "涂装", "总装", "注塑", "机加", "压铸", "热处理", "装配", "检测"]
TEAMS = ["一班", "二班", "三班", "四班", "五班"]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志海波宁鹏辉晨浩宇欣怡子涵"
REVERSAL_MEMOS = ["冲正：照片不清晰", "冲正：重复申领", "冲正：不符合规则", "冲正：录入错误"]

LEDGER_COLUMNS = (
    "id",
    "seq",
    "employee_id",
    "department_id",
    "points",
    "kind",
    "category",
    "claim_id",
    "rule_id",
    "campaign_id",
    "reversal_of_id",
    "memo",
    "created_by_id",
    "created_at",
    "prev_hash",
    "hash",
)
EMPLOYEE_COLUMNS = (
    "id",
    "employee_no",
    "name",
    "department_id",
    "role",
    "supervisor_id",
    "delegate_id",
    "active",
    "preferred_platform",
    "last_platform",
    "created_at",
)
DEPARTMENT_COLUMNS = ("id", "path", "name", "parent_id")
CAMPAIGN_COLUMNS = ("id", "name", "bonus_points", "starts_at", "ends_at", "category", "active")
SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME storage format


# --------------------------------------------------------------------------- data generation


class _Entry:
    """Just the attributes hashing reads; one instance is reused for every row."""

    __slots__ = LEDGER_COLUMNS


@dataclass
class Dataset:
    """A deterministic synthetic org and ledger anchored at `now` (the newest entry)."""

    entries: int
    now: datetime
    rules: list[tuple[int, int, str, str, str]]  # id, points, category, title, grade
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    departments: list[tuple[Any, ...]] = field(default_factory=list)
    employees: list[tuple[Any, ...]] = field(default_factory=list)
    campaign: tuple[Any, ...] | None = None
    head: tuple[int, str] = (0, GENESIS_HASH)

    def __post_init__(self) -> None:
        rng = self.rng
        self.start = self.now - timedelta(weeks=WEEKS)
        joined = self.start - timedelta(days=90)
        self.departments = [
            (i, f"{WORKSHOPS[(i - 1) // 5]}车间/{TEAMS[(i - 1) % 5]}", TEAMS[(i - 1) % 5], None)
            for i in range(1, DEPARTMENTS + 1)
        ]
        # Uneven department sizes (each has at least its supervisor, employees 1..50), uneven
        # activity per person.
        dept_weights = [rng.uniform(0.5, 2.0) for _ in range(DEPARTMENTS)]
        self.home = list(range(1, DEPARTMENTS + 1)) + rng.choices(
            range(1, DEPARTMENTS + 1), weights=dept_weights, k=EMPLOYEES - DEPARTMENTS
        )
        self.supervisor_of = {dept: dept for dept in range(1, DEPARTMENTS + 1)}
        # ~3 % were transferred during the period: earlier entries carry the old department.
        self.transfers: dict[int, tuple[float, int]] = {}
        span = (self.now - self.start).total_seconds()
        for emp_id in rng.sample(range(1, EMPLOYEES + 1), EMPLOYEES * 3 // 100):
            if emp_id <= DEPARTMENTS:  # supervisors stay put
                continue
            old = rng.randrange(1, DEPARTMENTS + 1)
            if old != self.home[emp_id - 1]:
                self.transfers[emp_id] = (rng.uniform(0.2, 0.8) * span, old)
        supervisors = set(self.supervisor_of.values())
        for emp_id, dept in enumerate(self.home, start=1):
            is_sup = emp_id in supervisors
            self.employees.append(
                (
                    emp_id,
                    f"E{emp_id:06d}",
                    rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
                    dept,
                    "supervisor" if is_sup else "worker",
                    None if is_sup else self.supervisor_of[dept],
                    None,
                    True,
                    rng.choice(("wecom", "dingtalk", "feishu")),
                    None,
                    joined,
                )
            )
        self.activity = list(itertools.accumulate(rng.lognormvariate(0, 0.6) for _ in self.home))
        c_start = self.start + timedelta(weeks=10)
        self.campaign = (1, "质量月加分", 2, c_start, c_start + timedelta(weeks=4), "质量", True)

    def ledger_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every ledger row in seq order, hash-chained with the project's keyed hash."""
        key = LedgerKey(BENCH_KEY)
        rng = self.rng
        n = self.entries
        span = (self.now - self.start).total_seconds()
        offsets = sorted(rng.random() * span for _ in range(n - 1))
        offsets.append(span)  # the newest entry is exactly `now`
        who = rng.choices(range(1, EMPLOYEES + 1), cum_weights=self.activity, k=n)
        rule_weights = [{"A": 1, "B": 3, "C": 6}[r[4]] for r in self.rules]
        rules = rng.choices(self.rules, weights=rule_weights, k=n)
        assert self.campaign is not None
        c_lo = (self.campaign[3] - self.start).total_seconds()
        c_hi = (self.campaign[4] - self.start).total_seconds()
        recent: deque[tuple[int, int, int, int, str]] = deque(maxlen=5000)
        e = _Entry()
        e.claim_id = None
        prev = GENESIS_HASH
        for seq in range(1, n + 1):
            off = offsets[seq - 1]
            emp = who[seq - 1]
            created = self.start + timedelta(seconds=off)
            moved = self.transfers.get(emp)
            dept = moved[1] if moved and off < moved[0] else self.home[emp - 1]
            roll = rng.random()
            e.seq = e.id = seq
            e.campaign_id = e.reversal_of_id = None
            if roll < 0.01 and len(recent) > 100:  # reversal of a recent entry
                k = rng.randrange(len(recent))
                orig_id, emp, orig_points, rule_id, category = recent[k]
                del recent[k]
                moved = self.transfers.get(emp)
                dept = moved[1] if moved and off < moved[0] else self.home[emp - 1]
                e.points, e.kind, e.rule_id, e.category = (
                    -orig_points,
                    "reversal",
                    rule_id,
                    category,
                )
                e.reversal_of_id = orig_id
                e.memo = rng.choice(REVERSAL_MEMOS)
                e.created_by_id = self.supervisor_of[dept]
            elif roll < 0.05 and c_lo <= off < c_hi:  # campaign bonus
                e.points, e.kind, e.rule_id, e.category = 2, "bonus", None, "质量"
                e.campaign_id = 1
                e.memo = "活动加分：质量月加分"
                e.created_by_id = None
            else:
                rule_id, points, category, title, _grade = rules[seq - 1]
                e.points, e.kind, e.rule_id, e.category = points, "claim", rule_id, category
                e.memo = title
                sup = self.supervisor_of[dept]
                e.created_by_id = None if sup == emp else sup
                recent.append((seq, emp, points, rule_id, category))
            e.employee_id, e.department_id, e.created_at = emp, dept, created
            e.prev_hash = prev
            e.hash = prev = key.entry_hash(prev, e)
            yield tuple(getattr(e, c) for c in LEDGER_COLUMNS)
        self.head = (n, prev)


# --------------------------------------------------------------------------- backends


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.strftime(SQLITE_TS)
    if isinstance(v, bool):
        return int(v)
    return v


def _insert_sql(table: str, columns: Sequence[str], mark: str = "?") -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


def load_sqlite(path: Path, data: Dataset) -> None:
    """executemany in one transaction over the raw sqlite3 connection."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=OFF")  # rows are generated consistent
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-400000")
        conn.execute("BEGIN")
        conn.executemany(_insert_sql("departments", DEPARTMENT_COLUMNS), data.departments)
        conn.executemany(
            _insert_sql("employees", EMPLOYEE_COLUMNS),
            ([_sqlite_value(v) for v in row] for row in data.employees),
        )
        assert data.campaign is not None
        conn.execute(
            _insert_sql("campaigns", CAMPAIGN_COLUMNS), [_sqlite_value(v) for v in data.campaign]
        )
        conn.executemany(
            _insert_sql("ledger_entries", LEDGER_COLUMNS),
            (row[:13] + (row[13].strftime(SQLITE_TS),) + row[14:] for row in data.ledger_rows()),
        )
        conn.execute(
            "UPDATE ledger_head SET seq = ?, hash = ?, key_id = ? WHERE id = 1",
            (*data.head, LedgerKey(BENCH_KEY).key_id),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def load_postgresql(engine: Engine, data: Dataset) -> None:
    """COPY through psycopg 3 (FK triggers off for the load), then VACUUM ANALYZE."""
    raw = engine.raw_connection()
    try:
        pg: Any = raw.driver_connection
        with pg.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # skip FK triggers
            for table, columns, rows in (
                ("departments", DEPARTMENT_COLUMNS, data.departments),
                ("employees", EMPLOYEE_COLUMNS, data.employees),
                ("campaigns", CAMPAIGN_COLUMNS, [data.campaign]),
                ("ledger_entries", LEDGER_COLUMNS, data.ledger_rows()),
            ):
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute(
                "UPDATE ledger_head SET seq = %s, hash = %s, key_id = %s WHERE id = 1",
                (*data.head, LedgerKey(BENCH_KEY).key_id),
            )
            for table in ("departments", "employees", "campaigns", "ledger_entries"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cur.execute("SET session_replication_role = DEFAULT")
        pg.commit()
        pg.autocommit = True
        with pg.cursor() as cur:
            # ANALYZE, plus the visibility map autovacuum would set on an insert-only table,
            # so index-only scans are possible as they would be in production.
            cur.execute("VACUUM ANALYZE")
        pg.autocommit = False
    finally:
        raw.close()


def _loaded(engine: Engine, entries: int) -> tuple[datetime | None, str]:
    """The `now` of data already loaded at the right size, else None; and what was done to it.

    Data loaded under older migrations is brought to head with `bot.db.upgrade` (as production
    would be) rather than reloaded; an unknown revision (e.g. a newer checkout) means reload.
    """
    from alembic.script import ScriptDirectory

    from bot.db import alembic_config

    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.connect() as conn:
            seq = conn.execute(text("SELECT seq FROM ledger_head WHERE id = 1")).scalar()
            employees = conn.execute(text("SELECT count(*) FROM employees")).scalar()
        if seq != entries or employees != EMPLOYEES:
            return None, ""
        note = ""
        current, head = current_and_head(engine)
        if current != head:
            if current is None:
                return None, ""
            ScriptDirectory.from_config(alembic_config(url)).get_revision(current)  # or raise
            t0 = time.perf_counter()
            upgrade(url, ledger_key=BENCH_KEY)  # re-keys a chain an older checkout loaded
            secs = time.perf_counter() - t0
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
            note = f", schema upgraded {current} -> {head} in {secs:.1f} s"
        with engine.connect() as conn:
            last = conn.execute(
                text("SELECT created_at FROM ledger_entries WHERE seq = :s").columns(
                    created_at=DateTime()
                ),
                {"s": seq},
            ).scalar()
    except Exception:
        return None, ""
    return (None, "") if last is None else (last.replace(tzinfo=UTC), note)


def _rules(engine: Engine) -> list[tuple[int, int, str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, points, category, title, grade FROM rules ORDER BY id")
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


@dataclass
class Prepared:
    """A backend ready to be measured."""

    name: str
    engine: Engine
    now: datetime
    load_note: str


def prepare_sqlite(entries: int, reload: bool, path: Path | None) -> Prepared:
    path = path or ROOT / "var" / "bench" / f"ledger-{entries}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    engine = make_engine(url, immediate=False)
    now, note = (None, "") if reload else _loaded(engine, entries)
    if now is not None:
        return Prepared("sqlite", engine, now, f"reused {path}{note} (--reload rebuilds)")
    engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    upgrade(url, ledger_key=BENCH_KEY)
    engine = make_engine(url, immediate=False)
    data = Dataset(entries, _anchor(), _rules(engine))
    engine.dispose()
    load_sqlite(path, data)
    secs = time.perf_counter() - t0
    engine = make_engine(url, immediate=False)
    size = path.stat().st_size / 2**20
    return Prepared("sqlite", engine, data.now, f"loaded in {secs:.1f} s ({path}, {size:.0f} MiB)")


def _pg_reachable(url: str) -> str | None:
    """None when the server answers, else the reason."""
    import psycopg

    u = make_url(url)
    try:
        psycopg.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 5432,
            user=u.username or "postgres",
            password=u.password or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:  # any failure means "skip"
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def prepare_postgresql(entries: int, reload: bool, url: str) -> Prepared:
    import psycopg

    u = make_url(url)
    dbname = u.database or "bench_ledger"
    if dbname in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use database {dbname!r}; the bench needs its own")
    with psycopg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username or "postgres",
        password=u.password or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{dbname}"')
    engine = make_engine(url)
    now, note = (None, "") if reload else _loaded(engine, entries)
    if now is not None:
        return Prepared(
            "postgresql", engine, now, f"reused database {dbname}{note} (--reload rebuilds)"
        )
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url, ledger_key=BENCH_KEY)
    data = Dataset(entries, _anchor(), _rules(engine))
    load_postgresql(engine, data)
    secs = time.perf_counter() - t0
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
    return Prepared(
        "postgresql",
        engine,
        data.now,
        f"loaded in {secs:.1f} s (db {dbname}, {size / 2**20:.0f} MiB)",
    )


def _anchor() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --------------------------------------------------------------------------- measurement

RAW_BALANCE = text(
    "SELECT SUM(points) AS total FROM ledger_entries WHERE employee_id = :employee_id "
    "GROUP BY employee_id"
)
RAW_BALANCE_SINCE = text(
    "SELECT SUM(points) AS total FROM ledger_entries "
    "WHERE employee_id = :employee_id AND created_at >= :since GROUP BY employee_id"
).bindparams(bindparam("since", type_=DateTime()))
_RANK = """
SELECT t.employee_id, e.name, t.total
FROM (SELECT employee_id, SUM(points) AS total
      FROM ledger_entries
      WHERE department_id = :department_id AND created_at >= :start AND created_at < :end
      GROUP BY employee_id) AS t
JOIN employees AS e ON e.id = t.employee_id
ORDER BY t.total DESC, e.name, t.employee_id
"""
RAW_RANK_TOP5 = text(_RANK + "LIMIT :limit").bindparams(
    bindparam("start", type_=DateTime()), bindparam("end", type_=DateTime())
)
RAW_RANK_ALL = text(_RANK).bindparams(
    bindparam("start", type_=DateTime()), bindparam("end", type_=DateTime())
)


def _naive(d: datetime) -> datetime:
    return d.astimezone(UTC).replace(tzinfo=None)


@dataclass
class Case:
    """One query measured both ways on the same arguments."""

    label: str
    project: Callable[[Session, Any], Any]
    raw: Callable[[Session, Any], Any]
    args: list[Any]


@dataclass
class Result:
    backend: str
    label: str
    project_ms: float
    raw_ms: float
    mismatches: int
    project_sql: tuple[str, Any] | None = None
    raw_sql: tuple[str, Any] | None = None

    @property
    def ratio(self) -> float:
        return self.project_ms / self.raw_ms if self.raw_ms else float("inf")


def _cases(now: datetime, repeat: int, rng: random.Random) -> list[Case]:
    this_week = week_start(now, TZ)
    mid_week = week_start(now - timedelta(weeks=WEEKS // 2), TZ)
    emps = [rng.randrange(1, EMPLOYEES + 1) for _ in range(repeat)]
    depts = [rng.randrange(1, DEPARTMENTS + 1) for _ in range(repeat)]

    def bal(s: Session, a: int) -> int:
        return balance(s, a)

    def bal_raw(s: Session, a: int) -> int:
        return int(s.execute(RAW_BALANCE, {"employee_id": a}).scalar() or 0)

    def bal_week(s: Session, a: int) -> int:
        return balance(s, a, this_week)

    def bal_week_raw(s: Session, a: int) -> int:
        params = {"employee_id": a, "since": _naive(this_week)}
        return int(s.execute(RAW_BALANCE_SINCE, params).scalar() or 0)

    def rank(start: datetime, limit: int | None) -> Callable[[Session, int], Any]:
        def run(s: Session, d: int) -> list[Standing]:
            return department_ranking(s, d, start, start + timedelta(days=7), limit=limit)

        return run

    def rank_raw(start: datetime, limit: int | None) -> Callable[[Session, int], Any]:
        params: dict[str, Any] = {"start": _naive(start), "end": _naive(start + timedelta(days=7))}
        stmt = RAW_RANK_ALL
        if limit is not None:
            params["limit"], stmt = limit, RAW_RANK_TOP5

        def run(s: Session, d: int) -> list[Standing]:
            # The same figure as the project's: a list of Standing built from the rows.
            rows = s.execute(stmt, {**params, "department_id": d})
            return [Standing(r[0], r[1], int(r[2])) for r in rows]

        return run

    return [
        Case("balance (all time)", bal, bal_raw, emps),
        Case("balance since Monday", bal_week, bal_week_raw, emps),
        Case(
            f"TOP5 current week ({this_week.astimezone(TZ):%m-%d})",
            rank(this_week, 5),
            rank_raw(this_week, 5),
            depts,
        ),
        Case(
            f"TOP5 middle week ({mid_week.astimezone(TZ):%m-%d})",
            rank(mid_week, 5),
            rank_raw(mid_week, 5),
            depts,
        ),
        Case(
            "full ranking current week (排行 handler, no limit)",
            rank(this_week, None),
            rank_raw(this_week, None),
            depts,
        ),
    ]


class _Capture:
    """Remembers the last statement the engine sent (for --explain)."""

    def __init__(self, engine: Engine) -> None:
        self.last: tuple[str, Any] | None = None
        event.listen(engine, "before_cursor_execute", self._hook)

    def _hook(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.last = (statement, params)


def measure(prep: Prepared, repeat: int) -> list[Result]:
    capture = _Capture(prep.engine)
    rng = random.Random(SEED + 1)
    results: list[Result] = []
    factory = make_session_factory(prep.engine)
    with factory() as session:
        for case in _cases(prep.now, repeat, rng):
            for a in case.args[:3]:  # warm-up: connection, statement caches, OS cache
                case.project(session, a)
                case.raw(session, a)
            case.project(session, case.args[0])
            project_sql = capture.last
            case.raw(session, case.args[0])
            raw_sql = capture.last
            p_times: list[float] = []
            r_times: list[float] = []
            mismatches = 0
            for i, a in enumerate(case.args):
                # Alternate which goes first so neither always benefits from a warmer cache.
                order = ((case.project, p_times), (case.raw, r_times))
                outputs = []
                for fn, sink in order if i % 2 == 0 else order[::-1]:
                    t0 = time.perf_counter()
                    outputs.append(fn(session, a))
                    sink.append(time.perf_counter() - t0)
                mismatches += outputs[0] != outputs[1]
            session.rollback()
            results.append(
                Result(
                    prep.name,
                    case.label,
                    statistics.median(p_times) * 1000,
                    statistics.median(r_times) * 1000,
                    mismatches,
                    project_sql,
                    raw_sql,
                )
            )
    return results


def explain(prep: Prepared, results: list[Result]) -> None:
    """Print the plan of the project's and the raw statement for each case."""
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if prep.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with prep.engine.connect() as conn:
        for r in results:
            for who, captured in (("project", r.project_sql), ("raw", r.raw_sql)):
                if captured is None:
                    continue
                statement, params = captured
                rows = conn.exec_driver_sql(prefix + statement, params).all()
                print(
                    f"\n--- {prep.name} · {r.label} · {who}\n{statement.strip()}\n  params {params}"
                )
                for row in rows:
                    print("  " + " | ".join(str(c) for c in row))
            conn.rollback()


# --------------------------------------------------------------------------- report


def _goal(r: Result) -> str:
    if r.backend != "postgresql":
        return "ratio ok" if r.ratio <= GOAL_RATIO else "ratio high"
    ok = r.ratio <= GOAL_RATIO and r.project_ms < GOAL_MS
    return "meets" if ok else "MISSES"


def report(results: list[Result], repeat: int) -> None:
    width = max(len(r.label) for r in results) + 2
    print(f"\nmedian of {repeat} calls (one per sampled employee/department), milliseconds")
    print(f"{'backend':<11}{'query':<{width}}{'project':>9}{'raw SQL':>9}{'ratio':>7}  goal")
    for r in results:
        note = f"  ({r.mismatches} result mismatches!)" if r.mismatches else ""
        print(
            f"{r.backend:<11}{r.label:<{width}}{r.project_ms:>9.2f}{r.raw_ms:>9.2f}"
            f"{r.ratio:>7.2f}  {_goal(r)}{note}"
        )
    pg = [r for r in results if r.backend == "postgresql"]
    print()
    if not pg:
        print(
            "verdict: UNDECIDED - the goal is set on PostgreSQL, which was not measured "
            f"(SQLite ratios {'all' if all(r.ratio <= GOAL_RATIO for r in results) else 'not all'}"
            f" <= {GOAL_RATIO})"
        )
        return
    missed = [r for r in pg if _goal(r) != "meets"]
    if missed:
        print(
            f"verdict: goal MISSED on PostgreSQL (ratio <= {GOAL_RATIO} and < {GOAL_MS:.0f} ms): "
            + "; ".join(f"{r.label} {r.project_ms:.1f} ms ×{r.ratio:.2f}" for r in missed)
        )
    else:
        worst = max(pg, key=lambda r: r.ratio)
        slowest = max(pg, key=lambda r: r.project_ms)
        print(
            f"verdict: goal MET on PostgreSQL - worst ratio {worst.ratio:.2f} ({worst.label}), "
            f"slowest {slowest.project_ms:.1f} ms ({slowest.label})"
        )
    if any(r.mismatches for r in results):
        print("warning: the project's and the raw query returned different results (see above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench ledger", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--entries", type=int, default=1_000_000, help="ledger entries to load")
    parser.add_argument("--quick", action="store_true", help="100,000 entries")
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per query and side")
    parser.add_argument("--reload", action="store_true", help="rebuild the data even if present")
    parser.add_argument("--explain", action="store_true", help="print the query plans too")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL), help="dedicated DB"
    )
    parser.add_argument("--sqlite-path", type=Path, help="default var/bench/ledger-N.sqlite")
    args = parser.parse_args(argv)
    entries = 100_000 if args.quick else args.entries
    if entries < 1000 or args.repeat < 1:
        parser.error("--entries must be >= 1000 and --repeat >= 1")
    print(
        f"ledger bench: {entries:,} entries, {EMPLOYEES:,} employees, {DEPARTMENTS} departments, "
        f"{WEEKS} weeks; repeat {args.repeat}; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs (shared machine: expect noise)"
    )
    results: list[Result] = []
    appends: list[AppendResult] = []
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "postgresql":
            reason = _pg_reachable(args.pg_url)
            if reason:
                print(
                    f"postgresql: skipped - {make_url(args.pg_url).render_as_string()} "
                    f"unreachable ({reason})"
                )
                continue
            prep = prepare_postgresql(entries, args.reload, args.pg_url)
        else:
            prep = prepare_sqlite(entries, args.reload, args.sqlite_path)
        print(f"{backend}: {prep.load_note}; newest entry {prep.now:%Y-%m-%d %H:%M} UTC")
        try:
            got = measure(prep, args.repeat)
            results += got
            appends.append(
                measure_appends(prep.name, prep.engine, prep.now, args.repeat * 10, EMPLOYEES)
            )
            if args.explain:
                explain(prep, got)
        finally:
            prep.engine.dispose()
    if results:
        report(results, args.repeat)
    if appends:
        report_appends(appends)
    return 0


if __name__ == "__main__":
    sys.exit(main())
