"""The domain tables (design §7), SQLAlchemy 2 typed ORM. The schema itself comes from migrations/."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and hands them back aware (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base for every table."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, date: Date}


class Role(StrEnum):
    """What an employee may do."""

    WORKER = "worker"
    SUPERVISOR = "supervisor"
    HR = "hr"
    ADMIN = "admin"


class ClaimState(StrEnum):
    """Life of a claim (申领)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Department(Base):
    """A department or team (部门); `path` like 冲压车间/一班."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    wecom_chatid: Mapped[str | None] = mapped_column(String(100))
    dingtalk_open_conversation_id: Mapped[str | None] = mapped_column(String(200))
    feishu_chat_id: Mapped[str | None] = mapped_column(String(100))
    employees: Mapped[list[Employee]] = relationship(back_populates="department")


class Employee(Base):
    """A person in the factory (员工), with a role and a supervisor (主管)."""

    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=Role.WORKER)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_platform: Mapped[str | None] = mapped_column(String(20))
    last_platform: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    department: Mapped[Department | None] = relationship(back_populates="employees")
    supervisor: Mapped[Employee | None] = relationship(
        remote_side="Employee.id", foreign_keys=[supervisor_id]
    )
    delegate: Mapped[Employee | None] = relationship(
        remote_side="Employee.id", foreign_keys=[delegate_id]
    )
    identities: Mapped[list[Identity]] = relationship(back_populates="employee")

    @property
    def is_supervisor(self) -> bool:
        """True for anyone who may have reports to approve."""
        return self.role in (Role.SUPERVISOR, Role.HR, Role.ADMIN)


class Identity(Base):
    """An employee's user id on one platform (wecom userid, dingtalk staffId, feishu open_id)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    employee: Mapped[Employee] = relationship(back_populates="identities")


class Rule(Base):
    """A behaviour in the catalogue (规则) worth points, with anti-gaming caps."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    grade: Mapped[str] = mapped_column(String(1))
    points: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(100))
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=True)
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    weekly_cap: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Campaign(Base):
    """A bonus per approved claim within a window (e.g. +2 adoption bonus)."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    bonus_points: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    category: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Evidence(Base):
    """A stored photo (证据): content-addressed, EXIF GPS stripped, hashes for duplicate checks."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    phash: Mapped[str] = mapped_column(String(16), index=True)
    mime_type: Mapped[str] = mapped_column(String(30))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None]
    storage_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class Claim(Base):
    """A worker's request for points under one rule (申领)."""

    __tablename__ = "claims"
    __table_args__ = (
        Index("ix_claims_employee_rule_created", "employee_id", "rule_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id"))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20), default=ClaimState.PENDING, index=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(500))
    points_credited: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    approver: Mapped[Employee | None] = relationship(foreign_keys=[approver_id])
    decided_by: Mapped[Employee | None] = relationship(foreign_keys=[decided_by_id])
    rule: Mapped[Rule] = relationship()
    evidence: Mapped[Evidence | None] = relationship()


class LedgerEntry(Base):
    """One append-only line of the points ledger (积分流水), hash-chained to the previous one."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_employee_created", "employee_id", "created_at", "points"),
        Index(
            "ix_ledger_department_created", "department_id", "created_at", "employee_id", "points"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    points: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(20))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    reversal_of_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    memo: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    created_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The single row that serializes appends: last seq and hash of the chain."""

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Reward(Base):
    """Something points can be redeemed for (兑换奖励)."""

    __tablename__ = "rewards"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class InboundEvent(Base):
    """One inbound delivery, recorded under its dedupe key before any side effect."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("platform", "dedupe_key"),
        Index("ix_inbound_state_id", "state", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(index=True)
    processed_at: Mapped[datetime | None]
    # pending: not before this (a retry's backoff); processing: the worker's lease ends here.
    next_attempt_at: Mapped[datetime | None]


class Outbox(Base):
    """One message or card update to deliver, written with the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_next", "state", "next_attempt_at"),
        Index("ix_outbox_pace", "pace_key", "sent_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # send | update
    platform: Mapped[str | None] = mapped_column(String(20))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"), index=True)
    target: Mapped[dict[str, Any] | None]
    card_key: Mapped[str | None] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    pace_key: Mapped[str | None] = mapped_column(String(200))
    # Platform messages the send took (a WeCom card with a photo is two); pacing counts these.
    cost: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class CardState(Base):
    """The current version of an interactive card; every delivered copy is brought up to it."""

    __tablename__ = "cards"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    payload: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


class CardCopy(Base):
    """One delivered copy of a card on one platform, with what the platform needs to update it."""

    __tablename__ = "card_copies"
    id: Mapped[int] = mapped_column(primary_key=True)
    card_key: Mapped[str] = mapped_column(ForeignKey("cards.key"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    external_ref: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class LocalMessage(Base):
    """A line in the local web chat (the `local` platform's transport)."""

    __tablename__ = "local_messages"
    __table_args__ = (Index("ix_local_messages_employee_id", "employee_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    body: Mapped[dict[str, Any]]
    card_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConversationState(Base):
    """Short-lived per-person context: a recent photo, a claim waiting for one, a reason to type."""

    __tablename__ = "conversation_states"
    __table_args__ = (UniqueConstraint("employee_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    key: Mapped[str] = mapped_column(String(50))
    value: Mapped[dict[str, Any]]
    expires_at: Mapped[datetime]


class KeyValue(Base):
    """Small shared cache across processes (platform access tokens, unknown-sender notices)."""

    __tablename__ = "kv_cache"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]


class AuditLog(Base):
    """Who did what to which object, and when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


# -- scheduler, tasks and escalation (issue 5) ---------------------------------------------------


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


class JobRun(Base):
    """One run of a scheduled job for one period; the unique pair makes every run idempotent."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    result: Mapped[str] = mapped_column(String(200))


class SchedulerLease(Base):
    """The single row naming the one active scheduler and until when it holds the lease."""

    __tablename__ = "scheduler_lease"
    __table_args__ = (CheckConstraint("id = 1"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]


class StarAward(Base):
    """Monthly improvement star (改善之星): who ranked where on improvement points."""

    __tablename__ = "star_awards"
    __table_args__ = (UniqueConstraint("month", "rank"), UniqueConstraint("month", "employee_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # 2026-11
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    points: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    employee: Mapped[Employee] = relationship()


class CalendarDay(Base):
    """A date whose workday status differs from the default (Mon–Fri work, weekends off)."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(100))


class Setting(Base):
    """Company-wide settings HR may change (quiet hours, reminder thresholds), as JSON values."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[dict[str, Any]]
