"""Opening many asks at once (a change reaching 500 owners, read confirmations to a whole
factory): the same asks, cards and log rows as `open_ask`, written in bulk so the whole fan-out
fits in the caller's transaction — one batched INSERT for the asks (their ids come back with
RETURNING), the cards and their outbox rows through CardBatch (COPY on PostgreSQL), the log
rows in one executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.asks.build import ask_values, card_content, policy_chain
from bot.asks.engine import card_for
from bot.asks.kinds import Choice
from bot.db import bulk_insert, insert_returning_ids
from bot.models import Ask, AskLog, Employee
from bot.outbox import CardBatch
from bot.signing import Signer
from cards import Card


@dataclass(frozen=True)
class NewAsk:
    """One of the asks `open_asks` opens: whose, what it says, what it offers, by when."""

    owner: Employee
    title: str
    card: Card
    choices: Sequence[Choice]
    subject: str | None = None
    delegates: Sequence[Employee] = ()
    due_at: datetime | None = None
    anchor_at: datetime | None = None


def open_asks(
    session: Session,
    *,
    kind: str,
    asks: Sequence[NewAsk],
    now: datetime,
    signer: Signer,
    policy: str | None = None,
    severity: str = "normal",
    told_may_answer: bool = False,
    anonymous: bool = False,
) -> list[Ask]:
    """Open and announce `asks` of one kind and policy; returns them in the same order.

    Raises:
        InvalidInput: unknown policy name (nothing is written).
    """
    chain = policy_chain(session, policy)
    stored: dict[int, list[dict[str, object]]] = {}  # the same choices are serialized once
    values = [
        ask_values(
            kind=kind, owner=new.owner, title=new.title, card=card_content(new.card),
            choices=stored.setdefault(id(new.choices), [c.to_dict() for c in new.choices]),
            now=now, chain=chain, subject=new.subject, delegates=new.delegates,
            due_at=new.due_at, anchor_at=new.anchor_at, severity=severity,
            told_may_answer=told_may_answer, anonymous=anonymous,
        )
        for new in asks
    ]  # fmt: skip
    # Plain rows, not ORM objects: building and flushing 500 pending Asks cost more than
    # inserting them; the cards are made from the inserted asks, loaded back once.
    ids = insert_returning_ids(session, Ask, values)
    loaded = {a.id: a for a in session.scalars(select(Ask).where(Ask.id.in_(ids)))}
    rows = [loaded[i] for i in ids]
    cards = CardBatch()
    logs: list[dict[str, object]] = []
    for ask, new in zip(rows, asks, strict=True):
        for person in (new.owner, *[d for d in new.delegates if d.id != new.owner.id]):
            card = card_for(session, ask, person, now=now, signer=signer)
            cards.add(card, person.id, now)
            logs.append(
                {"ask_id": ask.id, "step": 0, "action": "sent", "result": "done",
                 "recipient_id": person.id, "card_key": card.key, "detail": None,
                 "created_at": now}
            )  # fmt: skip
    cards.write(session)
    bulk_insert(session, AskLog, logs)
    return rows
