"""Short-lived conversation context per employee (a recent photo, a claim waiting for one, …)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.models import ConversationState


def remember(
    session: Session,
    employee_id: int,
    key: str,
    value: dict[str, Any],
    *,
    now: datetime,
    ttl: timedelta,
) -> None:
    """Set (replace) a context value that expires after `ttl`."""
    row = session.scalar(
        select(ConversationState).where(
            ConversationState.employee_id == employee_id, ConversationState.key == key
        )
    )
    if row is None:
        session.add(
            ConversationState(employee_id=employee_id, key=key, value=value, expires_at=now + ttl)
        )
    else:
        row.value, row.expires_at = value, now + ttl
    session.flush()


def recall(session: Session, employee_id: int, key: str, *, now: datetime) -> dict[str, Any] | None:
    """A live context value, or None when absent or expired."""
    row = session.scalar(
        select(ConversationState).where(
            ConversationState.employee_id == employee_id, ConversationState.key == key
        )
    )
    if row is None or row.expires_at <= now:
        return None
    return row.value


def forget(session: Session, employee_id: int, key: str) -> None:
    """Drop a context value."""
    session.execute(
        delete(ConversationState).where(
            ConversationState.employee_id == employee_id, ConversationState.key == key
        )
    )
