"""Asks that many people get on one shared card (read confirmations of a broadcast).

Each person still has their own ask — their own answer, due time, reminders and audit entry —
but the card is the same for everyone: its buttons are signed for ANYONE (bot.signing) with
the group's first ask as their object, so every copy has identical content and delivery can
send it with a platform's batch send (bot/runtime/batching.py). A press is resolved to the
presser's own ask of the same kind and subject and answered as if pressed on their own card;
someone who has none is refused like a stranger. Each person's copy keeps its own card key
(their ask's), so an answer updates only the presser's copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.asks.build import steps_of
from bot.asks.engine import primary_key
from bot.asks.inputs import press
from bot.asks.kinds import Choice, kind_of
from bot.db import bulk_insert
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.models import Ask, AskLog, AskState, Employee, EscalationPolicy
from bot.notices import asks as texts
from bot.outbox import CardBatch, new_batch_key
from bot.signing import ANYONE, Signer
from cards import Button, Card, Message

SHARED_ACTION = "ask_shared"


def open_shared(
    session: Session,
    *,
    kind: str,
    owner_ids: Sequence[int],
    title: str,
    card: Card,
    choices: Sequence[Choice],
    now: datetime,
    signer: Signer,
    subject: str,
    due_at: datetime | None = None,
    policy: str | None = None,
    anchor_at: datetime | None = None,
    severity: str = "normal",
) -> int:
    """Open one ask per owner (by employee id) about `subject` and queue each their copy of
    one shared card, all in bulk (10,000 people are a few statements); returns how many asks
    were opened.

    Raises:
        InvalidInput: unknown policy name.
    """
    if not owner_ids:
        return 0
    chain = None
    if policy is not None:
        chain = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == policy))
        if chain is None:
            raise InvalidInput(f"未知的升级策略：{policy}")
    steps = steps_of(chain)
    anchor = anchor_at or now
    content = card.to_dict()
    for key in ("buttons", "key", "status"):
        content.pop(key, None)
    values: dict[str, Any] = {
        "kind": kind, "subject": subject, "delegate_ids": [], "title": title[:200],
        "card": content, "choices": [c.to_dict() for c in choices], "state": AskState.OPEN,
        "severity": severity, "told_may_answer": False, "anonymous": False, "created_at": now,
        "due_at": due_at, "anchor_at": anchor, "policy": policy,
        "policy_title": chain.title if chain is not None else None, "steps": steps, "step": 0,
        "next_step_at": anchor + timedelta(minutes=steps[0]["at"]) if steps else None,
        "answer": None, "reason": None, "answer_data": None, "answered_by_id": None,
        "answered_at": None, "acknowledged_by_id": None, "acknowledged_at": None,
    }  # fmt: skip
    lead = Ask(owner_id=owner_ids[0], **values)
    session.add(lead)
    session.flush()
    bulk_insert(session, Ask, [{**values, "owner_id": o} for o in owner_ids[1:]])
    asks = session.execute(
        select(Ask.id, Ask.owner_id).where(
            Ask.subject == subject, Ask.kind == kind, Ask.created_at == now, Ask.id >= lead.id
        )
    ).all()
    buttons = tuple(
        Button(c.label, signer.sign(SHARED_ACTION, lead.id, ANYONE, now, c.key), c.style)
        for c in choices
    )
    shared = replace(card, buttons=buttons, status=None)
    copies = [(primary_key(ask_id), owner_id) for ask_id, owner_id in asks]
    batch = CardBatch()
    batch.add_copies(shared, copies, now, new_batch_key())
    logs = [
        {"ask_id": int(key.split(":")[1]), "step": 0, "action": "sent", "result": "done",
         "recipient_id": owner_id, "card_key": key, "detail": None, "created_at": now}
        for key, owner_id in copies
    ]  # fmt: skip
    batch.write(session)
    bulk_insert(session, AskLog, logs)
    session.flush()
    return len(asks)


def own_ask(session: Session, lead_id: int, person: Employee) -> Ask:
    """`person`'s ask in the group a shared card's lead ask belongs to.

    Raises:
        NotFound: no such group; NotAllowed: `person` was not asked.
    """
    lead = session.get(Ask, lead_id)
    if lead is None:
        raise NotFound(texts.UNKNOWN_ASK)
    mine = session.scalar(
        select(Ask)
        .where(Ask.subject == lead.subject, Ask.kind == lead.kind, Ask.owner_id == person.id)
        .order_by(Ask.id.desc())
        .limit(1)
    )
    if mine is None:
        raise NotAllowed(kind_of(lead).not_yours)
    return mine


def press_shared(
    session: Session,
    lead_id: int,
    actor: Employee,
    choice_key: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    signer: Signer,
    platform: str | None = None,
) -> list[Message]:
    """A tap on a shared card: the same as a tap on the presser's own card.

    Raises:
        BotError subclasses: as `press`, and NotAllowed for someone who was not asked.
    """
    mine = own_ask(session, lead_id, actor)
    return press(
        session, mine.id, actor, choice_key, now=now, tz=tz, signer=signer, platform=platform
    )
