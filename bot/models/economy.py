"""What points can be spent on (兑换): rewards and redemptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.models.org import Employee


class RewardKind(StrEnum):
    """What a reward is: goods, time off in half days (调休), or priority in promotion review."""

    GOODS = "goods"
    LEAVE = "leave"
    PRIORITY = "priority"


class RedemptionState(StrEnum):
    """Life of a redemption: pending holds its cost; approved debits it; rejected and
    cancelled release it."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Reward(Base):
    """Something points can be redeemed for (兑换奖励)."""

    __tablename__ = "rewards"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default=RewardKind.GOODS)
    cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Redemption(Base):
    """One request to spend points on a reward (兑换申请).

    While pending, `cost` is held (available = balance − holds); approval writes the ledger
    debit (`ledger_entry_id`) and takes one from stock. `source` says where it came from:
    `redeem` (the worker asked) or a grant such as `checkin_streak` (a zero-cost voucher).
    """

    __tablename__ = "redemptions"
    __table_args__ = (Index("ix_redemptions_employee_state", "employee_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"))
    cost: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=RedemptionState.PENDING)
    source: Mapped[str] = mapped_column(String(30), default="redeem")
    note: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    decided_at: Mapped[datetime | None]
    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    reward: Mapped[Reward] = relationship()


class CampaignRule(Base):
    """A rule a campaign's bonus is limited to (活动规则); a campaign without any applies to all."""

    __tablename__ = "campaign_rules"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id"), primary_key=True)


class SuggestionState(StrEnum):
    """Life of a suggestion: open (waiting for the supervisor), discussing (answered 需讨论,
    still to decide), adopted, declined; an adopted one is later implemented or dropped."""

    OPEN = "open"
    DISCUSSING = "discussing"
    ADOPTED = "adopted"
    DECLINED = "declined"
    IMPLEMENTED = "implemented"
    DROPPED = "dropped"


class Suggestion(Base):
    """An improvement suggestion (建议) a worker sends, answered by their supervisor in 72 hours.

    `answered_at` is the first response (采纳 / 需讨论 / 不采纳: what the 72-hour clock
    measures); `claim_id` the A06 credit once it is implemented.
    """

    __tablename__ = "suggestions"
    __table_args__ = (
        Index("ix_suggestions_created", "created_at"),
        Index("ix_suggestions_employee", "employee_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    text: Mapped[str] = mapped_column(String(1000))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    state: Mapped[str] = mapped_column(String(20), default=SuggestionState.OPEN)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    decided_at: Mapped[datetime | None]
    implemented_at: Mapped[datetime | None]
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    employee: Mapped[Employee] = relationship(foreign_keys=[employee_id])
    reviewer: Mapped[Employee] = relationship(foreign_keys=[reviewer_id])
