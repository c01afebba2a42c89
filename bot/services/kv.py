"""The small shared cache (kv_cache): values with an expiry, readable by every process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import session_scope
from bot.models import KeyValue


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
