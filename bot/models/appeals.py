"""Appeals (申诉) against rejected claims: one per claim, decided by the rejecter's supervisor."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.models.claims import Claim
from bot.models.ledger import LedgerEntry
from bot.models.org import Employee


class AppealState(StrEnum):
    """Life of an appeal: waiting for review, then overturned (改判通过) or upheld (维持驳回)."""

    PENDING = "pending"
    OVERTURNED = "overturned"
    UPHELD = "upheld"


class Appeal(Base):
    """A claimant's appeal (申诉) of a rejected claim.

    `claim_id` is unique: one appeal per claim, whatever its outcome. The rejection it answers
    (`rejected_by_id`, `rejected_at`, `rejection_reason`) is copied here, because an overturn
    makes the claim approved. An overturn credits the ledger: `ledger_entry_id` is its base
    entry; every entry it wrote carries the claim's id and kind `appeal` (or `bonus`) and names
    the appeal in its memo, all hashed fields, so the link holds both ways and the hash chain
    covers it (bot/services/appeals.py).
    """

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_employee_created", "employee_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20), default=AppealState.PENDING, index=True)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    rejected_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    due_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    points_credited: Mapped[int | None] = mapped_column(Integer)
    ledger_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_entries.id"), unique=True
    )
    platform: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    claim: Mapped[Claim] = relationship()
    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    rejected_by: Mapped[Employee | None] = relationship(foreign_keys=[rejected_by_id])
    reviewer: Mapped[Employee] = relationship(foreign_keys=[reviewer_id])
    decided_by: Mapped[Employee | None] = relationship(foreign_keys=[decided_by_id])
    ledger_entry: Mapped[LedgerEntry | None] = relationship()
