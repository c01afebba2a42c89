"""Work someone must answer by a time, and its escalation chains (任务与升级)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
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

    `notify` is owner | owner+supervisor | next_level; `repeat` (minutes) re-runs the last step.
    """

    __tablename__ = "escalation_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class Task(Base):
    """Generic work item with a due time and an escalation chain (任务/预警).

    `next_step_at` is NULL once the chain stops (acknowledged, done, cancelled, or no steps
    left), so the escalation tick's range scan only ever sees tasks with something to do.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_tasks_next_step_at", "next_step_at"),
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
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.id"))
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None]
    last_update_at: Mapped[datetime]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    acknowledged_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    owner: Mapped[Employee] = relationship(foreign_keys=[owner_id])
    policy: Mapped[EscalationPolicy | None] = relationship()


class EscalationLog(Base):
    """One executed escalation step or acknowledgement (who was told, when, what came of it)."""

    __tablename__ = "escalation_log"
    __table_args__ = (Index("ix_escalation_log_task", "task_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    step: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))  # notify kind, acknowledged, done, deferred
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    card_key: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[str] = mapped_column(String(20))  # triggered | failed | deferred | ...
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
