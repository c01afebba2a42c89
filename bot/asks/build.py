"""Building asks: the escalation chain's snapshot and a new Ask row (one, or many in bulk)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.asks.kinds import Choice
from bot.errors import InvalidInput
from bot.models import Ask, AskState, Employee, EscalationPolicy
from cards import Card


def steps_of(policy: EscalationPolicy | None) -> list[dict[str, Any]]:
    """A policy's chain as minutes from the ask's anchor (a snapshot kept on the ask)."""
    steps: list[dict[str, Any]] = []
    at = 0
    for step in policy.steps if policy is not None else ():
        at += int(step.get("wait_minutes", 0))
        snapshot = {"at": at, "notify": step["notify"]}
        if step.get("repeat"):
            snapshot["repeat"] = int(step["repeat"])
        steps.append(snapshot)
    return steps


def policy_chain(session: Session, policy: str | None) -> EscalationPolicy | None:
    """The named escalation policy (None for none). Raises InvalidInput when unknown."""
    if policy is None:
        return None
    chain = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == policy))
    if chain is None:
        raise InvalidInput(f"未知的升级策略：{policy}")
    return chain


def build_ask(
    *,
    kind: str,
    owner: Employee,
    title: str,
    card: Card,
    choices: Sequence[Choice],
    now: datetime,
    chain: EscalationPolicy | None,
    subject: str | None = None,
    delegates: Sequence[Employee] = (),
    due_at: datetime | None = None,
    anchor_at: datetime | None = None,
    severity: str = "normal",
    told_may_answer: bool = False,
    anonymous: bool = False,
) -> Ask:
    """A new, unsaved Ask with its chain's snapshot."""
    ask = Ask(
        **ask_values(
            kind=kind, owner=owner, title=title, card=card, choices=choices, now=now,
            chain=chain, subject=subject, delegates=delegates, due_at=due_at,
            anchor_at=anchor_at, severity=severity, told_may_answer=told_may_answer,
            anonymous=anonymous,
        )
    )  # fmt: skip
    ask.owner = owner
    return ask


def ask_values(
    *,
    kind: str,
    owner: Employee,
    title: str,
    card: Card | dict[str, Any],
    choices: Sequence[Choice] | list[dict[str, Any]],
    now: datetime,
    chain: EscalationPolicy | None,
    subject: str | None = None,
    delegates: Sequence[Employee] = (),
    due_at: datetime | None = None,
    anchor_at: datetime | None = None,
    severity: str = "normal",
    told_may_answer: bool = False,
    anonymous: bool = False,
) -> dict[str, Any]:
    """The column values of a new ask (a row to insert in bulk, or an Ask's constructor
    arguments); `card` and `choices` may come already in their stored form."""
    steps = steps_of(chain)
    anchor = anchor_at or now
    content = card_content(card) if isinstance(card, Card) else card
    stored = [c.to_dict() if isinstance(c, Choice) else c for c in choices]
    return {
        "kind": kind,
        "subject": subject,
        "owner_id": owner.id,
        "delegate_ids": [d.id for d in delegates if d.id != owner.id],
        "title": title[:200],
        "card": content,
        "choices": stored,
        "state": AskState.OPEN,
        "severity": severity,
        "told_may_answer": told_may_answer,
        "anonymous": anonymous,
        "created_at": now,
        "due_at": due_at,
        "anchor_at": anchor,
        "policy": chain.name if chain is not None else None,
        "policy_title": chain.title if chain is not None else None,
        "steps": steps,
        "step": 0,
        "next_step_at": anchor + timedelta(minutes=steps[0]["at"]) if steps else None,
    }


def card_content(card: Card) -> dict[str, Any]:
    """What an ask stores of its card: everything but the buttons, key and status (the
    engine adds those per person and per state)."""
    content = card.to_dict()
    for key in ("buttons", "key", "status"):
        content.pop(key, None)
    return content
