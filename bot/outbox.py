"""The outbox: the only writer of outbox rows, card versions (cards) and delivered copies
(card_copies), single and in bulk (design §3).

A message is first an outbox row written in the caller's transaction, together with the change
that caused it; the runtime delivers it later (bot/runtime/delivery.py) and records the outcome
through the functions at the end of this module.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from bot.db import bulk_insert
from bot.models import CardCopy, CardState, Employee, Outbox
from bot.storable import storable
from cards import Card, Message, message_from_dict

MAX_ATTEMPTS = 8


def copy_key(key: str, recipient_id: int | None = None) -> str:
    """The key of one person's copy of a card: buttons are signed for one person, so everyone
    who gets a card with buttons gets their own copy; `recipient_id` None is the first copy."""
    return key if recipient_id is None else f"{key}:{recipient_id}"


def _row(
    payload: dict[str, Any],
    now: datetime,
    *,
    recipient_id: int | None = None,
    platform: str | None = None,
    target: dict[str, Any] | None = None,
    card_key: str | None = None,
    batch_key: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": "send", "platform": platform, "recipient_id": recipient_id, "target": target,
        "card_key": card_key, "payload": payload, "state": "pending", "attempts": 0,
        "next_attempt_at": now, "created_at": now, "batch_key": batch_key,
    }  # fmt: skip


def new_batch_key() -> str:
    """A key marking rows written together with identical content (outbox.batch_key)."""
    return secrets.token_hex(16)


# -- writing messages ------------------------------------------------------------------------------


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
    or to a raw `target` on `platform` (a group chat, a reply context)."""
    if recipient is None and (platform is None or target is None):
        raise ValueError("enqueue needs a recipient or a platform and target")
    card_key = None
    if isinstance(message, Card) and message.key:
        publish_card(session, message, now=now, enqueue_updates=False)
        card_key = message.key
    row = Outbox(
        **_row(
            message.to_dict(),
            now,
            recipient_id=recipient.id if recipient else None,
            platform=platform,
            target=target,
            card_key=card_key,
        )
    )
    session.add(row)
    session.flush()
    return row


def enqueue_many(
    session: Session,
    rows: Iterable[tuple[int, dict[str, Any]]],
    now: datetime,
    *,
    batch_key: str | None = None,
) -> int:
    """Queue (recipient id, message payload) pairs of unkeyed messages with one executemany
    (no ORM objects, no RETURNING: a broadcast to 10,000 people is one statement batch).

    Give `batch_key` only when every payload is the same: delivery may then send the rows
    with the platform's batch send (bot/runtime/batching.py)."""
    values = [_row(payload, now, recipient_id=rid, batch_key=batch_key) for rid, payload in rows]
    if values:
        bulk_insert(session, Outbox, values)
    return len(values)


def enqueue_broadcast(
    session: Session, message: Message, recipient_ids: Iterable[int], now: datetime
) -> int:
    """Queue one unkeyed message to many employees as one batch (identical content)."""
    assert not (isinstance(message, Card) and message.key), "keyed cards are one per person"
    payload = message.to_dict()
    return enqueue_many(
        session, ((rid, payload) for rid in recipient_ids), now, batch_key=new_batch_key()
    )


def enqueue_to_chats(
    session: Session, message: Message, chats: Iterable[tuple[str, str]], now: datetime
) -> int:
    """Queue an unkeyed message to group chats, given as (platform, chat id) pairs."""
    payload = message.to_dict()
    values = [_row(payload, now, platform=p, target={"chat_id": c}) for p, c in chats]
    if values:
        session.execute(insert(Outbox), values)
    return len(values)


@dataclass
class CardBatch:
    """Brand-new keyed cards to queue in bulk (an escalation tick may queue thousands in one
    transaction): collected with `add`, written with `write` as plain inserts, or COPY on
    PostgreSQL."""

    cards: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, card: Card, recipient_id: int, now: datetime, *, batch_key: str | None = None
    ) -> None:
        """What `enqueue` does for a card whose key has never been used; cards that differ
        only in their key may share a `batch_key` (one shared card, a copy per person)."""
        assert card.key, "a batch holds keyed cards"
        payload = card.to_dict()
        self.cards.append({"key": card.key, "payload": payload, "version": 1, "updated_at": now})
        self.outbox.append(
            _row(payload, now, recipient_id=recipient_id, card_key=card.key, batch_key=batch_key)
        )

    def add_copies(
        self, card: Card, copies: Iterable[tuple[str, int]], now: datetime, batch_key: str
    ) -> None:
        """One card content to many people, each copy under its own key ((key, recipient id)
        pairs, keys never used before). The outbox rows share one payload (delivery sends a
        keyed card at its current version anyway), so it is serialized once."""
        shared = replace(card, key=None).to_dict()
        for key, recipient_id in copies:
            payload = {**shared, "key": key}
            self.cards.append({"key": key, "payload": payload, "version": 1, "updated_at": now})
            self.outbox.append(
                _row(shared, now, recipient_id=recipient_id, card_key=key, batch_key=batch_key)
            )

    def write(self, session: Session) -> None:
        """Insert everything collected, then start afresh."""
        bulk_insert(session, CardState, self.cards)
        bulk_insert(session, Outbox, self.outbox)
        self.cards, self.outbox = [], []


# -- card versions ---------------------------------------------------------------------------------


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
            _enqueue_update(session, card.key, payload, now)
    session.flush()
    return state


def _enqueue_update(session: Session, key: str, payload: dict[str, Any], now: datetime) -> None:
    row = _row(payload, now, card_key=key)
    row["kind"] = "update"
    session.add(Outbox(**row))


def current_card(session: Session, key: str) -> Card | None:
    """The newest version of a keyed card."""
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


# -- operators -------------------------------------------------------------------------------------


def requeue_dead(session: Session, ids: Iterable[int] | None, now: datetime) -> int:
    """Put dead-lettered rows (these ids, or all when None) back in the queue; returns how many."""
    query = update(Outbox).where(Outbox.state == "dead")
    if ids is not None:
        query = query.where(Outbox.id.in_(list(ids)))
    return session.execute(query.values(state="pending", attempts=0, next_attempt_at=now)).rowcount


# -- recording delivery (bot/runtime/delivery.py) ----------------------------------------------


def lease(session: Session, limit: int, now: datetime, until: datetime) -> list[Outbox]:
    """Take up to `limit` due rows (pending, or leased by a worker that died) until `until`;
    each take counts as an attempt. The rows come back detached."""
    due = or_(Outbox.state == "pending", Outbox.state == "sending")
    query = (
        select(Outbox.id).where(due, Outbox.next_attempt_at <= now).order_by(Outbox.id).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(Outbox)
        .where(Outbox.id.in_(ids))
        .values(state="sending", next_attempt_at=until, attempts=Outbox.attempts + 1)
    )
    rows = list(session.scalars(select(Outbox).where(Outbox.id.in_(ids)).order_by(Outbox.id)))
    session.expunge_all()
    return rows


def lease_mates(
    session: Session, batch_keys: set[str], limit: int, now: datetime, until: datetime
) -> list[Outbox]:
    """Take up to `limit` more due send rows of these batches (as `lease` does), so that one
    delivery round fills a platform's batch send rather than a fraction of it."""
    if not batch_keys or limit <= 0:
        return []
    due = or_(Outbox.state == "pending", Outbox.state == "sending")
    query = (
        select(Outbox.id)
        .where(Outbox.batch_key.in_(batch_keys), due, Outbox.next_attempt_at <= now)
        .order_by(Outbox.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(Outbox)
        .where(Outbox.id.in_(ids))
        .values(state="sending", next_attempt_at=until, attempts=Outbox.attempts + 1)
    )
    rows = list(session.scalars(select(Outbox).where(Outbox.id.in_(ids)).order_by(Outbox.id)))
    session.expunge_all()
    return rows


def hand_back(row: Outbox, due: datetime) -> None:
    """Return a leased row unsent (held back by pacing or the lease's end): not an attempt."""
    row.state, row.next_attempt_at = "pending", due
    row.attempts = max(row.attempts - 1, 0)


def release(session: Session, row_id: int, attempt: int, now: datetime) -> None:
    """Hand a row leased under `attempt` back, due now; a row another worker has taken over
    since is left alone."""
    row = session.get(Outbox, row_id)
    assert row is not None
    if row.state == "sending" and row.attempts == attempt:
        hand_back(row, now)


@dataclass(frozen=True, slots=True)
class Sent:
    """What a delivered send row records: where it went and what pacing counts."""

    row_id: int
    sent_at: datetime
    platform: str
    pace_key: str
    cost: int


def mark_sent(session: Session, sent: list[Sent]) -> None:
    """Record plain (non-card) sends with one executemany UPDATE by primary key."""
    if sent:
        session.execute(
            update(Outbox),
            [
                {"id": s.row_id, "state": "sent", "sent_at": s.sent_at, "last_error": None,
                 "platform": s.platform, "pace_key": s.pace_key, "cost": s.cost}
                for s in sent
            ],
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CardSent:
    """A delivered card copy to record: the send, whom it reached, the platform's reference,
    and the card version it showed."""

    sent: Sent
    card_key: str
    recipient_id: int | None
    external_ref: dict[str, Any]
    version: int


def mark_cards_sent(session: Session, delivered: list[CardSent]) -> None:
    """Record delivered card copies in bulk (a broadcast's thousands of copies are three
    statements); a card that changed while its copy was on the way gets an update queued."""
    if not delivered:
        return
    mark_sent(session, [d.sent for d in delivered])
    bulk_insert(
        session,
        CardCopy,
        [
            {"card_key": d.card_key, "platform": d.sent.platform, "recipient_id": d.recipient_id,
             "outbox_id": d.sent.row_id, "external_ref": d.external_ref, "version": d.version,
             "created_at": d.sent.sent_at}
            for d in delivered
        ],
    )  # fmt: skip
    shown = {d.card_key: d.version for d in delivered}
    newer = session.execute(
        select(CardState.key, CardState.payload, CardState.version).where(
            CardState.key.in_(list(shown))
        )
    ).all()
    at = max(d.sent.sent_at for d in delivered)
    for key, payload, version in newer:
        if version > shown[key]:
            _enqueue_update(session, key, payload, at)


def backoff(attempts: int) -> timedelta:
    """Exponential backoff: 5 s, 10 s, 20 s … capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def mark_failed(
    row: Outbox, error: str, *, retryable: bool, retry_after: float | None, now: datetime
) -> bool:
    """Record a failed attempt: retry later with backoff, or dead-letter the row (no retries
    left, or not retryable). True when the row is now dead."""
    row.last_error = storable(error)[:500]  # it may quote what the database refused
    if not retryable or row.attempts >= MAX_ATTEMPTS:
        row.state = "dead"
        return True
    wait = timedelta(seconds=retry_after) if retry_after else backoff(row.attempts)
    row.state, row.next_attempt_at = "pending", now + wait
    return False


def mark_dead(session: Session, row_id: int, attempt: int, error: str) -> None:
    """Dead-letter a row whose outcome could not be recorded otherwise, if this worker still
    holds it under `attempt` (another that took it over records its own outcome)."""
    session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.state == "sending", Outbox.attempts == attempt)
        .values(state="dead", last_error=storable(error)[:500])
    )


def mark_sent_unrecorded(
    session: Session, row_id: int, attempt: int, sent_at: datetime, error: str
) -> bool:
    """A row that was sent but whose full outcome (its card copy, its cost) could not be
    written: sent, with the reason. False when this worker no longer holds it."""
    done = session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.state == "sending", Outbox.attempts == attempt)
        .values(state="sent", sent_at=sent_at, last_error=storable(error)[:500])
    )
    return bool(done.rowcount)


def mark_update_done(session: Session, row_id: int, now: datetime) -> None:
    """An update row whose copies are all current."""
    row = session.get(Outbox, row_id)
    assert row is not None
    row.state, row.sent_at, row.last_error = "sent", now, None


def stale_copies(session: Session, key: str) -> tuple[Card, int, list[tuple[int, str, dict]]]:
    """A card's newest version, its number, and (id, platform, external_ref) of every copy
    delivered at an older version."""
    card_state = session.get(CardState, key)
    assert card_state is not None
    card = message_from_dict(card_state.payload)
    assert isinstance(card, Card)
    copies = [
        (c.id, c.platform, dict(c.external_ref))
        for c in session.scalars(
            select(CardCopy).where(CardCopy.card_key == key, CardCopy.version < card_state.version)
        )
    ]
    return card, card_state.version, copies


def mark_copy_updated(
    session: Session, copy_id: int, version: int, external_ref: dict[str, Any] | None
) -> None:
    """One copy now shows `version` (with the platform's new reference, if it gave one)."""
    copy = session.get(CardCopy, copy_id)
    assert copy is not None
    copy.version = version
    if external_ref is not None:
        copy.external_ref = external_ref
