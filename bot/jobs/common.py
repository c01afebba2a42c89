"""Fan-out helpers shared by the jobs: department chats or members, queued in bulk."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.models import Department, Employee, Outbox
from cards import Card, Message

# Department column → platform whose group chat it names (design §10 import-departments).
CHAT_COLUMNS = (
    ("wecom", "wecom_chatid"),
    ("dingtalk", "dingtalk_open_conversation_id"),
    ("feishu", "feishu_chat_id"),
)


def queue_to(
    session: Session, message: Message, recipients: Iterable[Employee], now: datetime
) -> int:
    """outbox.enqueue for many employees at once (unkeyed messages only; no flush per row)."""
    assert not (isinstance(message, Card) and message.key), "keyed cards go through enqueue"
    payload = message.to_dict()
    return queue_rows(session, [(person.id, payload) for person in recipients], now)


def queue_rows(session: Session, rows: list[tuple[int, dict[str, Any]]], now: datetime) -> int:
    """Insert (recipient id, message payload) outbox rows with one executemany (no ORM objects,
    no RETURNING: a broadcast to 10,000 people is one statement batch)."""
    if rows:
        session.execute(
            insert(Outbox),
            [
                {
                    "kind": "send", "platform": None, "recipient_id": recipient_id,
                    "target": None, "card_key": None, "payload": payload, "state": "pending",
                    "attempts": 0, "next_attempt_at": now, "created_at": now,
                }
                for recipient_id, payload in rows
            ],
        )  # fmt: skip
    return len(rows)


def department_chats(department: Department, platforms: frozenset[str]) -> list[tuple[str, str]]:
    """(platform, chat id) for each configured group chat on an enabled platform."""
    chats = []
    for platform, column in CHAT_COLUMNS:
        chat_id = getattr(department, column)
        if chat_id and platform in platforms:
            chats.append((platform, chat_id))
    return chats


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
        payload = message.to_dict()
        session.add_all(
            Outbox(
                kind="send",
                platform=platform,
                target={"chat_id": chat_id},
                payload=payload,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for platform, chat_id in chats
        )
        return len(chats)
    return queue_to(session, message, active_members(session, department.id), now)
