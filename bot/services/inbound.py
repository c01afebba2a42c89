"""Record inbound deliveries once (dedupe before any side effect)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.events import Event
from bot.models import InboundEvent


def record_inbound(session: Session, event: Event) -> InboundEvent | None:
    """Persist an Event under its dedupe key; return None when the key was seen before."""
    key = event.dedupe_key[:200]
    existing = session.scalar(
        select(InboundEvent.id).where(
            InboundEvent.platform == event.platform, InboundEvent.dedupe_key == key
        )
    )
    if existing is not None:
        return None
    row = InboundEvent(
        platform=event.platform,
        dedupe_key=key,
        payload=event.to_dict(),
        state="pending",
        received_at=event.received_at,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A concurrent delivery of the same key won the race.
        return None
    return row
