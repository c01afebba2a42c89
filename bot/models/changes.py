"""Engineering changes (变更影响): who owns which module, the change, its impact matrix, each
owner's confirmation, the notices, and the retests that follow (design §13).

The questions themselves are asks (subject `change:<id>`); these tables keep what the answers
mean for the change, so the API, the summary and the reports read them without replaying asks.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.models.org import Employee


class ChangeStatus(StrEnum):
    """A change is open until every owner has decided and every accepted retest is reported
    (or the author or HR closes it)."""

    OPEN = "open"
    CLOSED = "closed"


class AckDecision(StrEnum):
    """An owner's answer to a change (接受 / 需协商 / 拒绝); negotiating until they confirm again."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    NEGOTIATING = "negotiating"
    REJECTED = "rejected"


class RetestState(StrEnum):
    """A retest task (重测任务): open until its result is reported."""

    OPEN = "open"
    REPORTED = "reported"


class ModuleOwner(Base):
    """One owner of a module (模块负责人), as imported with `python -m bot import-modules`."""

    __tablename__ = "module_owners"
    __table_args__ = (UniqueConstraint("module", "employee_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    module: Mapped[str] = mapped_column(String(100))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    created_at: Mapped[datetime]
    employee: Mapped[Employee] = relationship()


class Change(Base):
    """An engineering or BOM change (工程变更) announced by PLM, idempotent per source and
    external id; `first_retest_at` is when its first retest was reported (the tracked metric)."""

    __tablename__ = "changes"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_changes_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(30))
    external_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    effective_date: Mapped[date]
    author_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    retest_due_hours: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=ChangeStatus.OPEN)
    created_at: Mapped[datetime]
    first_retest_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[Employee] = relationship()


class ChangeImpact(Base):
    """One row of a change's impact matrix (影响矩阵) for one owner: object, action, estimated
    hours and compensation points; `module` names the module it came through, if any."""

    __tablename__ = "change_impacts"
    __table_args__ = (Index("ix_change_impacts_change_owner", "change_id", "owner_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    position: Mapped[int] = mapped_column(Integer)  # index in the request's impacts
    module: Mapped[str | None] = mapped_column(String(100))
    object: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(200))
    hours: Mapped[float] = mapped_column(Float)
    compensation_points: Mapped[int] = mapped_column(Integer)


class ChangeAck(Base):
    """An affected owner's confirmation of a change (确认): the decision and its reason, and,
    after 需协商, the author's reply (adjust or maintain) until the owner confirms again."""

    __tablename__ = "change_acks"
    __table_args__ = (UniqueConstraint("change_id", "owner_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    decision: Mapped[str] = mapped_column(String(20), default=AckDecision.PENDING)
    reason: Mapped[str | None] = mapped_column(String(500))
    decided_at: Mapped[datetime | None]
    negotiation_reason: Mapped[str | None] = mapped_column(String(500))
    negotiation_ask_id: Mapped[int | None] = mapped_column(ForeignKey("asks.id"))
    author_reply: Mapped[str | None] = mapped_column(String(20))  # adjust | maintain
    author_reason: Mapped[str | None] = mapped_column(String(500))
    replied_at: Mapped[datetime | None]
    owner: Mapped[Employee] = relationship()


class ChangeNotice(Base):
    """A change notice to someone in `notify` and their feedback (确认无误 / 需补充信息 /
    存在误解), with the text or photo that came with it."""

    __tablename__ = "change_notices"
    __table_args__ = (UniqueConstraint("change_id", "employee_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    response: Mapped[str | None] = mapped_column(
        String(20)
    )  # confirmed | need_info | misunderstanding
    note: Mapped[str | None] = mapped_column(String(500))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    responded_at: Mapped[datetime | None]
    employee: Mapped[Employee] = relationship()


class ChangeRetest(Base):
    """A retest task (重测任务) created when an owner accepts; the reported result credits the
    compensation to the ledger (`ledger_entry_id`), traceable to this row, its change and the
    report's evidence."""

    __tablename__ = "change_retests"
    __table_args__ = (UniqueConstraint("change_id", "owner_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    state: Mapped[str] = mapped_column(String(20), default=RetestState.OPEN)
    due_at: Mapped[datetime]
    result: Mapped[str | None] = mapped_column(String(10))  # pass | fail
    note: Mapped[str | None] = mapped_column(String(500))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    source: Mapped[str | None] = mapped_column(String(20))  # chat | api
    reported_at: Mapped[datetime | None]
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    points: Mapped[int] = mapped_column(Integer, default=0)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime]
    owner: Mapped[Employee] = relationship(foreign_keys=[owner_id])
