"""Recording a delivery batch's outcomes (bot/runtime/delivery.py): sent, held back, retried or
dead-lettered. Together in one transaction, or row by row when that fails, so one row the
database refuses never leaves the others "sending", to be leased and sent again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from bot import outbox
from bot.db import is_unavailable, session_scope
from bot.models import Outbox
from bot.ports import DeliveryError, Recipient
from cards import Card, Message

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger("bot.runtime.delivery")  # one logger for the delivery step


class Plan(Protocol):
    """What recording reads of a planned send (runtime.delivery.Plan)."""

    row_id: int
    attempt: int
    platform: str
    recipient: Recipient | None
    message: Message | None
    card_key: str | None
    version: int | None
    key: str
    cost: int
    result: dict[str, Any] | None
    error: DeliveryError | None
    defer_until: datetime | None
    sent_at: datetime | None


def record(state: BotState, plans: Sequence[Plan]) -> None:
    """Record the batch's outcomes."""
    try:
        _record_together(state, plans)
    except Exception:
        log.exception("outbox: recording a batch of %s failed, recording row by row", len(plans))
        for plan in plans:
            _record_alone(state, plan)


def _record_alone(state: BotState, plan: Plan) -> None:
    try:
        _record_together(state, [plan])
        return
    except Exception as exc:
        if is_unavailable(exc):
            # The database is away: nothing can be written now. The row stays leased and is
            # taken again when the lease lapses (a sent one may then go out a second time,
            # which the platforms with an idempotency key drop).
            log.warning("outbox %s: outcome not recorded, database unavailable", plan.row_id)
            return
        reason = f"recording the outcome failed: {type(exc).__name__}: {exc}"
    if plan.sent_at is not None:
        # Sent: recorded as sent with the reason when that much can be written, so that
        # requeueing dead rows never sends it twice; dead-lettered only when not even that.
        reason = f"sent, but {reason}"
        try:
            with session_scope(state.session_factory) as session:
                kept = outbox.mark_sent_unrecorded(
                    session, plan.row_id, plan.attempt, plan.sent_at, reason
                )
            if kept:
                log.error("outbox %s sent, outcome only partly recorded: %s", plan.row_id,
                          reason[:200])  # fmt: skip
                return
        except Exception:
            log.warning("outbox %s: could not record it as sent either", plan.row_id)
    log.error("outbox %s dead: %s", plan.row_id, reason[:200])
    with session_scope(state.session_factory) as session:
        outbox.mark_dead(session, plan.row_id, plan.attempt, reason)


def _record_together(state: BotState, plans: Sequence[Plan]) -> None:
    now = state.clock.now()
    # Sends, the bulk of a batch, are executemany UPDATEs by primary key (card copies a bulk
    # insert besides); the rest (deferrals, failures) are loaded together and changed as
    # objects.
    plain, cards, others = [], [], []
    for p in plans:
        if p.sent_at is None:
            others.append(p)
        elif p.card_key and isinstance(p.message, Card):
            assert p.recipient is not None
            cards.append(
                outbox.CardSent(
                    _sent(p), p.card_key, p.recipient.employee_id, p.result or {}, p.version or 1
                )
            )
        else:
            plain.append(_sent(p))
    with session_scope(state.session_factory) as session:
        outbox.mark_sent(session, plain)
        outbox.mark_cards_sent(session, cards)
        ids = [p.row_id for p in others]
        query = select(Outbox).where(Outbox.id.in_(ids)).with_for_update()
        rows = {r.id: r for r in session.scalars(query)} if ids else {}
        for plan in others:
            row = rows[plan.row_id]
            if row.state != "sending" or row.attempts != plan.attempt:
                # Unsent, and another worker took the row over since (bot/runtime/leases.py).
                log.warning("outbox %s: lease lost, unsent, left to its new holder", row.id)
                continue
            if plan.defer_until is not None:
                outbox.hand_back(row, plan.defer_until)
            elif plan.error is not None:
                record_failure(row, plan.error, now)


def _sent(plan: Plan) -> outbox.Sent:
    assert plan.sent_at is not None
    return outbox.Sent(plan.row_id, plan.sent_at, plan.platform, plan.key, plan.cost)


def record_failure(row: Outbox, error: DeliveryError, now: datetime) -> None:
    """Retry later or dead-letter, and say which in the log."""
    dead = outbox.mark_failed(
        row, str(error), retryable=error.retryable, retry_after=error.retry_after, now=now
    )
    if dead:
        log.error("outbox %s dead after %s attempts: %s", row.id, row.attempts, str(error)[:200])
    else:
        wait = row.next_attempt_at - now
        log.warning("outbox %s retry in %s: %s", row.id, wait, str(error)[:200])
