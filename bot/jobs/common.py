"""Fan-out helpers shared by the jobs: department chats or members, queued in bulk."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Department, Employee
from bot.outbox import enqueue_many, enqueue_to_chats, new_batch_key
from cards import Card, Message


def queue_to(
    session: Session, message: Message, recipients: Iterable[Employee], now: datetime
) -> int:
    """outbox.enqueue for many employees at once (unkeyed messages only; no flush per row),
    as one batch: delivery may use the platform's batch send for it."""
    assert not (isinstance(message, Card) and message.key), "keyed cards go through enqueue"
    payload = message.to_dict()
    rows = [(person.id, payload) for person in recipients]
    return enqueue_many(session, rows, now, batch_key=new_batch_key() if len(rows) > 1 else None)


def department_chats(department: Department, platforms: frozenset[str]) -> list[tuple[str, str]]:
    """(platform, chat id) for each configured group chat on an enabled platform."""
    return [(c.platform, c.chat_id) for c in department.chats if c.platform in platforms]


def active_members(session: Session, department_id: int) -> list[Employee]:
    """Active employees of a department."""
    return list(
        session.scalars(
            select(Employee)
            .where(Employee.department_id == department_id, Employee.active.is_(True))
            .order_by(Employee.id)
        )
    )


def send_to_department(
    session: Session,
    department: Department,
    message: Message,
    *,
    now: datetime,
    platforms: frozenset[str],
) -> int:
    """To the department's group chat(s) if configured, else to each active member 1:1."""
    chats = department_chats(department, platforms)
    if chats:
        return enqueue_to_chats(session, message, chats, now)
    return queue_to(session, message, active_members(session, department.id), now)
