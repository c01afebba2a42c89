"""Record inbound deliveries once (dedupe before any side effect)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Dialect, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from bot.db import dbapi_transaction
from bot.models import InboundEvent
from bot.ports import Event

_TABLE = InboundEvent.__table__
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@cache
def _statement(dialect: str) -> Any:
    # Built once per dialect: constructing the insert and its cache key each time cost more than
    # running it (bench/callbacks.py).
    return (
        _INSERTS[dialect](_TABLE)
        .on_conflict_do_nothing(index_elements=["platform", "dedupe_key"])
        .returning(_TABLE.c.id)
    )


# session.info flag: the event being handled must keep no readable copy of what was said.
REDACT = "redact_inbound"
REDACTED_TEXT = "[redacted]"


def redact_inbound(session: Session) -> None:
    """Ask the worker to blank the event it is handling (its text, button value and typed
    input) when it records it done: an anonymous answer leaves no copy tied to its sender."""
    session.info[REDACT] = True


def take_redact(session: Session) -> bool:
    """Whether the event handled in `session` must be blanked (and clear the request)."""
    return bool(session.info.pop(REDACT, False))


def redacted(payload: dict[str, Any]) -> dict[str, Any]:
    """An inbound payload without what the person said or pressed."""
    out = dict(payload)
    out.update(text=REDACTED_TEXT if out.get("text") else "", action_value=None, action_input=None)
    return out


def record_inbound(session: Session, event: Event) -> int | None:
    """Persist an Event under its dedupe key; return its row id, or None when the key was seen
    before (a platform retry or a concurrent duplicate).

    One INSERT … ON CONFLICT DO NOTHING: this runs inside the platform's acknowledgement
    deadline, so it is a single round trip with no savepoint.
    """
    connection = session.connection()
    params = {
        "platform": event.platform,
        "dedupe_key": event.dedupe_key[:200],
        "payload": event.to_dict(),
        "state": "pending",
        "attempts": 0,
        "received_at": event.received_at,
    }
    return connection.execute(_statement(connection.dialect.name), params).scalar_one_or_none()


_COLUMNS = ("platform", "dedupe_key", "payload", "state", "attempts", "received_at")


@lru_cache(maxsize=32)  # per engine's dialect; the test suite makes many engines
def _driver_insert(dialect: Dialect) -> tuple[str, Callable[[dict[str, Any]], Any]]:
    """The insert compiled for `dialect`, and a function turning values into the driver's
    parameters through each column type's own bind processor (JSON, UTC datetimes)."""
    compiled = _statement(dialect.name).compile(dialect=dialect, column_keys=list(_COLUMNS))
    types = {key: _TABLE.c[key].type.dialect_impl(dialect) for key in _COLUMNS}
    processors = [(key, types[key].bind_processor(dialect)) for key in _COLUMNS]
    names = list(compiled.positiontup or [])
    # Every parameter must be one of ours: a column given a Python-side default later would
    # otherwise fail here, inside the callback, instead of at the first test run.
    if set(compiled.params) != set(_COLUMNS):
        raise RuntimeError(f"inbound insert binds {sorted(compiled.params)}, expected {_COLUMNS}")

    def parameters(values: dict[str, Any]) -> Any:
        bound = {key: fn(values[key]) if fn else values[key] for key, fn in processors}
        return tuple(bound[name] for name in names) if names else bound

    return compiled.string, parameters


@dataclass(eq=False)
class _Pending:
    """One caller's insert waiting in a group."""

    parameters: Any
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to write the next group rather than with a result
    fresh: bool = False
    error: BaseException | None = None


def _insert_one(engine: Engine, sql: str, parameters: Any) -> bool:
    with dbapi_transaction(engine) as cursor:
        cursor.execute(sql, parameters)
        # fetchall, not fetchone: a RETURNING statement left unfinished keeps SQLite's
        # statement active, and COMMIT then meets SQLITE_BUSY.
        return bool(cursor.fetchall())


class _GroupCommit:
    """SQLite callbacks arriving together share one transaction (group commit).

    The first caller leads: it writes every insert queued so far in one transaction. Callers
    arriving meanwhile wait; when the leader is done it wakes the first of those still queued
    to lead the next group. A caller alone writes its own row at once; under a burst (a shift
    starting, everyone asking for 积分) BEGIN, COMMIT and the SQLite write lock are paid once
    per group instead of once per callback. Nobody answers before their row is committed, and
    a group that fails is written again row by row, so each caller gets its own outcome.

    Only for SQLite, whose writers queue on one file lock anyway; PostgreSQL runs concurrent
    transactions itself, and grouping there would serialize them on one connection.
    """

    def __init__(self) -> None:
        # A Condition, notified on every change of the queue, so a test can see a group form.
        self._mutex = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False

    def insert(self, engine: Engine, sql: str, parameters: Any) -> bool:
        mine = _Pending(parameters)
        with self._mutex:
            self._queue.append(mine)
            lead = not self._leading
            self._leading = True
            self._mutex.notify_all()
        try:
            if not lead:
                mine.done.wait()
                lead = mine.lead
            if lead:
                self._write_group(engine, sql)
        except BaseException:
            self._abandon(mine, lead)
            raise
        if mine.error is not None:
            raise mine.error
        return mine.fresh

    def _write_group(self, engine: Engine, sql: str) -> None:
        group: list[_Pending] = []
        try:
            with self._mutex:
                group, self._queue = self._queue, []
                self._mutex.notify_all()
            self._write(engine, sql, group)
        except BaseException:
            for item in group:  # interrupted mid-write: nobody may be told their row is in
                item.fresh, item.error = False, RuntimeError("inbound write interrupted")
            raise
        finally:
            with self._mutex:
                self._hand_over()
            for item in group:
                item.done.set()

    @staticmethod
    def _write(engine: Engine, sql: str, group: list[_Pending]) -> None:
        try:
            with dbapi_transaction(engine) as cursor:
                for item in group:
                    cursor.execute(sql, item.parameters)
                    item.fresh = bool(cursor.fetchall())
            return
        except Exception as exc:
            if len(group) == 1:
                group[0].fresh, group[0].error = False, exc
                return
        # Rolled back. One bad row must not fail the callers grouped with it by chance.
        for item in group:
            try:
                item.fresh, item.error = _insert_one(engine, sql, item.parameters), None
            except Exception as exc:
                item.fresh, item.error = False, exc

    def _hand_over(self) -> None:
        """With the mutex held: wake the next queued caller to lead, or stop leading."""
        if self._queue:
            successor = self._queue[0]
            successor.lead = True
            successor.done.set()
        else:
            self._leading = False

    def _abandon(self, mine: _Pending, lead: bool) -> None:
        """A caller interrupted while still queued leaves, passing on the lead if it had it."""
        with self._mutex:
            if any(item is mine for item in self._queue):
                self._queue = [item for item in self._queue if item is not mine]
                if lead or mine.lead:
                    self._hand_over()
                self._mutex.notify_all()


_GROUPS: weakref.WeakKeyDictionary[Pool, _GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_GUARD = threading.Lock()


def _group_for(engine: Engine) -> _GroupCommit:
    with _GROUPS_GUARD:
        group = _GROUPS.get(engine.pool)
        if group is None:
            group = _GROUPS[engine.pool] = _GroupCommit()
        return group


def accept_inbound(engine: Engine, event: Event) -> bool:
    """Record `event`; True when it is a first delivery (False: seen before).

    The callback routes' common case, so it runs the insert compiled once straight on the
    DBAPI cursor (SQLAlchemy's per-statement execution was the larger part of the bot's own
    time per callback, bench/callbacks.py), with values through the same column types. On
    SQLite, concurrent callbacks share a transaction (_GroupCommit).
    """
    sql, parameters = _driver_insert(engine.dialect)
    values = {
        "platform": event.platform,
        # A lone surrogate (a JSON "\\ud800" escape in an event id) cannot be stored as UTF-8,
        # nor a NUL in PostgreSQL text.
        "dedupe_key": event.dedupe_key[:200]
        .encode("utf-8", "replace")
        .decode("utf-8")
        .replace("\x00", "?"),
        "payload": event.to_dict(),
        "state": "pending",
        "attempts": 0,
        "received_at": event.received_at,
    }
    bound = parameters(values)
    if engine.dialect.name == "sqlite":
        return _group_for(engine).insert(engine, sql, bound)
    return _insert_one(engine, sql, bound)
