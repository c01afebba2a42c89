"""Review of approvals (审批复核): every approval act, and the signals that flag one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.models.claims import Claim
from bot.models.org import Employee


class ClaimApproval(Base):
    """One approval of a claim (通过): stage 1 by the supervisor, stage 2 by the second
    approver when the claim needed one. The collusion signals are counted on these rows."""

    __tablename__ = "claim_approvals"
    __table_args__ = (
        UniqueConstraint("claim_id", "stage"),
        Index("ix_claim_approvals_approver", "approver_id", "created_at"),
        Index("ix_claim_approvals_pair", "claimant_id", "approver_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    stage: Mapped[int] = mapped_column(Integer)
    approver_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    claimant_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    approver: Mapped[Employee] = relationship(foreign_keys=[approver_id])


class ReviewFlag(Base):
    """Why a claim deserves a second look (复核原因): `signal` is one of bot.services.review's
    SIGNALS (points, mutual, burst, concentration, old_photo); HR lists them."""

    __tablename__ = "review_flags"
    __table_args__ = (
        UniqueConstraint("claim_id", "signal"),
        Index("ix_review_flags_created", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    signal: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]]  # numbers and names the notice renders
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    created_at: Mapped[datetime]
    claim: Mapped[Claim] = relationship()
    approver: Mapped[Employee | None] = relationship()
