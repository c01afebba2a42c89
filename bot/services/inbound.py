"""Record inbound deliveries once (dedupe before any side effect)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Dialect, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db import dbapi_transaction
from bot.events import Event
from bot.models import InboundEvent

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


def accept_inbound(engine: Engine, event: Event) -> bool:
    """Record `event` in its own short transaction; True when it is a first delivery.

    The callback routes' common case, so it runs the insert compiled once straight on the
    DBAPI cursor: SQLAlchemy's per-statement execution was the larger part of the bot's own
    time per callback (bench/callbacks.py). Values go through the same column types.
    """
    sql, parameters = _driver_insert(engine.dialect)
    values = {
        "platform": event.platform,
        "dedupe_key": event.dedupe_key[:200],
        "payload": event.to_dict(),
        "state": "pending",
        "attempts": 0,
        "received_at": event.received_at,
    }
    with dbapi_transaction(engine) as cursor:
        cursor.execute(sql, parameters(values))
        # fetchall, not fetchone: a RETURNING statement left unfinished keeps SQLite's
        # statement active, and COMMIT then meets SQLITE_BUSY and the busy handler's sleeps.
        return bool(cursor.fetchall())
