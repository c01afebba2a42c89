"""Work someone must answer by a time, and its escalation chains (任务与升级)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.models.org import Employee


class TaskState(StrEnum):
    """Life of a task (任务)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"
    CANCELLED = "cancelled"


class EscalationPolicy(Base):
    """Named escalation chain (升级策略): steps of {wait_minutes, notify, repeat?}.

    `wait_minutes` of the first step counts from the ask's anchor (its due time, or its
    creation), later ones from the step before; `notify` is a key of bot.asks.escalation's
    NOTIFY; `repeat` (minutes) re-runs the last step. Asks copy the chain when they open.
    """

    __tablename__ = "escalation_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class AskState(StrEnum):
    """Life of an ask: open (waiting), acknowledged (still open, reminders stopped), answered,
    closed (settled some other way: the owning feature closed it)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    CLOSED = "closed"


class Ask(Base):
    """A card sent to one person that waits for one answer among named choices, by a due
    time (design §12): approvals, task alerts, confirmations, questionnaire questions.

    `card` is the neutral card's content (no buttons: the engine signs them per person),
    `choices` the offered answers, `steps` a snapshot of the escalation chain at creation
    (minutes from `anchor_at`), so later policy edits never change a running ask.
    `next_step_at` is NULL once nothing more is scheduled, so the tick's range scan sees only
    asks with something to do.
    """

    __tablename__ = "asks"
    __table_args__ = (
        Index("ix_asks_next_step_at", "next_step_at"),
        Index("ix_asks_owner_state", "owner_id", "state"),
        Index("ix_asks_subject", "subject"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(100))  # e.g. claim:42, task:7
    owner_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    delegate_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(String(200))
    card: Mapped[dict[str, Any]]
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default=AskState.OPEN)
    severity: Mapped[str] = mapped_column(String(10), default="normal")  # normal | urgent
    # Everyone the chain told may answer too (task alerts); else only owner and delegates.
    told_may_answer: Mapped[bool] = mapped_column(Boolean, default=False)
    # Anonymous asks (questionnaires) keep no record of which answer a person gave.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    anchor_at: Mapped[datetime]
    policy: Mapped[str | None] = mapped_column(String(50))
    policy_title: Mapped[str | None] = mapped_column(String(100))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(500))
    answer_data: Mapped[dict[str, Any] | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    answered_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    acknowledged_at: Mapped[datetime | None]
    owner: Mapped[Employee] = relationship(foreign_keys=[owner_id])
    answered_by: Mapped[Employee | None] = relationship(foreign_keys=[answered_by_id])


class AskLog(Base):
    """One thing that happened to an ask: a card sent (with its key), a step triggered or
    deferred, an acknowledgement, the answer."""

    __tablename__ = "ask_log"
    __table_args__ = (Index("ix_ask_log_ask", "ask_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ask_id: Mapped[int] = mapped_column(ForeignKey("asks.id"))
    step: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))  # sent, notify kind, acknowledged, answered
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    card_key: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[str] = mapped_column(String(20))  # triggered | deferred | done | ...
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Task(Base):
    """Work from an outside system or the bot (任务/预警): what must be done, by whom, by when.

    Its reminders and escalation are its ask's (`subject` task:<id>, kind task_alert).
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_tasks_owner_state", "owner_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(500))
    owner_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    due_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(30))
    external_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default=TaskState.OPEN)
    severity: Mapped[str] = mapped_column(String(10), default="normal")  # normal | urgent
    last_update_at: Mapped[datetime]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    acknowledged_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    owner: Mapped[Employee] = relationship(foreign_keys=[owner_id])
