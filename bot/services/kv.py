"""The small shared cache (kv_cache): values with an expiry, readable by every process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Dialect, Engine, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import dbapi_transaction, session_scope
from bot.models import KeyValue

_TABLE = KeyValue.__table__
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def cache_get(session: Session, key: str, now: datetime) -> str | None:
    """The live value under `key`, or None when absent or expired."""
    row = session.get(KeyValue, key[:200], populate_existing=True)
    return row.value if row is not None and row.expires_at > now else None


def cache_put(session: Session, key: str, value: str, expires_at: datetime) -> None:
    """Insert or replace a value; a concurrent insert of the same key is absorbed."""
    key = key[:200]
    row = session.get(KeyValue, key)
    if row is None:
        try:
            with session.begin_nested():
                session.add(KeyValue(key=key, value=value, expires_at=expires_at))
            return
        except IntegrityError:
            row = session.get(KeyValue, key, populate_existing=True)
    if row is not None:
        row.value, row.expires_at = value, expires_at


def cache_add(session: Session, key: str, value: str, expires_at: datetime) -> bool:
    """Insert a value unless a row (live or expired) is under `key`; False when one is."""
    key = key[:200]
    if session.get(KeyValue, key, populate_existing=True) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(KeyValue(key=key, value=value, expires_at=expires_at))
    except IntegrityError:
        return False  # another transaction inserted it between the check and the insert
    return True


def cache_insert(engine: Engine, key: str, value: str, expires_at: datetime) -> bool:
    """Insert a value unless a row (live or expired) is under `key`; False when one is.

    One INSERT … ON CONFLICT DO NOTHING in its own transaction on the driver's cursor, for a
    callback route that checks a key on every request (a session's overhead tripled DingTalk's
    acknowledgement time, bench/callbacks.py).
    """
    sql, parameters = _driver_insert(engine.dialect)
    bound = parameters({"key": key[:200], "value": value, "expires_at": expires_at})
    with dbapi_transaction(engine) as cursor:
        cursor.execute(sql, bound)
        return bool(cursor.fetchall())  # fetchall: an unfinished RETURNING keeps SQLite busy


@lru_cache(maxsize=32)  # per engine's dialect; the test suite makes many engines
def _driver_insert(dialect: Dialect) -> tuple[str, Callable[[dict[str, Any]], Any]]:
    """The put-if-absent insert compiled for `dialect`, and a function turning values into the
    driver's parameters through each column type's bind processor (UTC datetimes)."""
    columns = ("key", "value", "expires_at")
    statement = (
        _INSERTS[dialect.name](_TABLE)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(_TABLE.c.key)
    )
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    processors = [
        (c, _TABLE.c[c].type.dialect_impl(dialect).bind_processor(dialect)) for c in columns
    ]
    names = list(compiled.positiontup or [])

    def parameters(values: dict[str, Any]) -> Any:
        bound = {key: fn(values[key]) if fn else values[key] for key, fn in processors}
        return tuple(bound[name] for name in names) if names else bound

    return compiled.string, parameters


def cache_take(session: Session, key: str, now: datetime) -> tuple[str, datetime] | None:
    """Delete the row under `key`; its (value, expires_at) when it was live, else None.

    One DELETE … RETURNING, so of two callers taking the same key only one gets the value.
    """
    taken = session.execute(
        delete(KeyValue)
        .where(KeyValue.key == key[:200])
        .returning(KeyValue.value, KeyValue.expires_at)
    ).first()
    if taken is None or taken.expires_at <= now:
        return None
    return taken.value, taken.expires_at


def cache_delete(session: Session, key: str) -> None:
    """Forget the value under `key`, if any."""
    session.execute(delete(KeyValue).where(KeyValue.key == key[:200]))


def cache_admit(
    session: Session,
    key: str,
    token: str,
    *,
    now: datetime,
    grace: timedelta,
    expires_at: datetime,
    limit: int = 20,
) -> bool:
    """Record one use of `key` by `token` (e.g. a body digest); False when it is refused.

    Admitted: the first use, a token already recorded (the same thing again) and a new token
    within `grace` of the first use, up to `limit` tokens. One row per key holds the first use
    and the tokens seen; the common case (a new key) is a single INSERT, and a key seen before
    is read under a row lock so two processes never both admit past the grace.
    """
    key = key[:200]
    first_ms = int(now.timestamp() * 1000)
    try:
        with session.begin_nested():
            session.execute(
                insert(KeyValue).values(key=key, value=f"{first_ms} {token}", expires_at=expires_at)
            )
        return True
    except IntegrityError:
        pass
    row = session.get(KeyValue, key, populate_existing=True, with_for_update=True)
    if row is None:
        return False  # purged as expired between the two statements: past any window
    first, *tokens = row.value.split()
    if token in tokens:
        return True
    if first_ms - int(first) > grace.total_seconds() * 1000 or len(tokens) >= limit:
        return False
    row.value = f"{row.value} {token}"
    return True


def cache_purge(session: Session, prefix: str, now: datetime) -> int:
    """Delete the expired rows whose key starts with `prefix`; how many went."""
    result = session.execute(
        delete(KeyValue).where(
            KeyValue.key.startswith(prefix, autoescape=True), KeyValue.expires_at <= now
        )
    )
    return result.rowcount


def remembered(
    session_factory: sessionmaker[Session],
    key: str,
    *,
    now: datetime,
    ttl: timedelta,
    produce: Callable[[], str | None],
) -> str | None:
    """The cached value under `key`, or `produce()` (e.g. an upload) cached for `ttl`.

    No transaction is held while `produce` runs: two processes racing both produce and the last
    one's value stays, which suits ids that are all valid (uploaded media ids).
    """
    with session_scope(session_factory) as session:
        cached = cache_get(session, key, now)
    if cached is not None:
        return cached
    value = produce()
    if value is not None:
        with session_scope(session_factory) as session:
            cache_put(session, key, value, now + ttl)
    return value
