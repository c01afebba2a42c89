"""Record inbound deliveries once (dedupe before any side effect)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

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


def record_inbound(session: Session | Connection, event: Event) -> int | None:
    """Persist an Event under its dedupe key; return its row id, or None when the key was seen
    before (a platform retry or a concurrent duplicate).

    One INSERT … ON CONFLICT DO NOTHING: this runs inside the platform's acknowledgement
    deadline, so it is a single round trip with no savepoint.
    """
    connection = session.connection() if isinstance(session, Session) else session
    params = {
        "platform": event.platform,
        "dedupe_key": event.dedupe_key[:200],
        "payload": event.to_dict(),
        "state": "pending",
        "attempts": 0,
        "received_at": event.received_at,
    }
    return connection.execute(_statement(connection.dialect.name), params).scalar_one_or_none()


def accept_inbound(engine: Engine, event: Event) -> bool:
    """Record `event` in its own short transaction; True when it is a first delivery.

    The callback routes' common case. A Core connection rather than an ORM Session: the
    session's bookkeeping was a third of the acknowledgement's own time (bench/callbacks.py).
    """
    with engine.begin() as connection:
        return record_inbound(connection, event) is not None
