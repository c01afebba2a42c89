"""Queue outgoing messages and card versions in the caller's transaction (the outbox)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import CardCopy, CardState, Employee, Outbox
from cards import Card, Message


def enqueue(
    session: Session,
    message: Message,
    *,
    now: datetime,
    recipient: Employee | None = None,
    platform: str | None = None,
    target: dict[str, Any] | None = None,
) -> Outbox:
    """Queue one message to an employee (their preferred platform unless `platform` is given)
    or to a raw `target` on `platform` (a group chat)."""
    if recipient is None and (platform is None or target is None):
        raise ValueError("enqueue needs a recipient or a platform and target")
    card_key = None
    if isinstance(message, Card) and message.key:
        publish_card(session, message, now=now, enqueue_updates=False)
        card_key = message.key
    row = Outbox(
        kind="send",
        platform=platform,
        recipient_id=recipient.id if recipient else None,
        target=target,
        card_key=card_key,
        payload=message.to_dict(),
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def publish_card(
    session: Session, card: Card, *, now: datetime, enqueue_updates: bool = True
) -> CardState:
    """Record a new version of a keyed card; with `enqueue_updates`, queue an update of every
    delivered copy (copies still in the outbox are sent at the newest version anyway)."""
    assert card.key, "only keyed cards have versions"
    state = session.get(CardState, card.key, with_for_update=True)
    payload = card.to_dict()
    if state is None:
        state = CardState(key=card.key, payload=payload, version=1, updated_at=now)
        session.add(state)
        session.flush()
        return state
    if state.payload == payload:
        return state
    state.payload, state.version, state.updated_at = payload, state.version + 1, now
    if enqueue_updates:
        has_copies = session.scalar(select(CardCopy.id).where(CardCopy.card_key == card.key))
        pending_sends = session.scalar(
            select(Outbox.id).where(
                Outbox.card_key == card.key, Outbox.kind == "send", Outbox.state == "pending"
            )
        )
        if has_copies or pending_sends:
            session.add(
                Outbox(
                    kind="update",
                    card_key=card.key,
                    payload=payload,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.flush()
    return state


def current_card(session: Session, key: str) -> Card | None:
    """The newest version of a keyed card."""
    from cards import message_from_dict

    state = session.get(CardState, key)
    if state is None:
        return None
    card = message_from_dict(state.payload)
    assert isinstance(card, Card)
    return card


def close_card(session: Session, key: str, status: str, *, now: datetime) -> None:
    """Replace a card's buttons with a final status line on every copy (no-op if unknown)."""
    card = current_card(session, key)
    if card is not None:
        publish_card(session, replace(card, buttons=(), status=status), now=now)
