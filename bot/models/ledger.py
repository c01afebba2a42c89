"""The hash-chained points ledger (积分流水) and what is awarded from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.models.org import Employee


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
    """The single row that serializes appends: last seq and hash of the chain, and the id of
    the key the chain is keyed with (set by the first keyed append or the re-keying)."""

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))


class LedgerCheckpoint(Base):
    """A signed checkpoint of the chain's head that was published (存证): by the daily job
    `ledger_checkpoint` or `python -m bot ledger checkpoint`. `line` is the signed text."""

    __tablename__ = "ledger_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    line: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20))  # job | cli | upgrade (migration 0009)
    path: Mapped[str | None] = mapped_column(String(500))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class LedgerKeying(Base):
    """A record of entries written without a key being re-hashed under BOT_LEDGER_KEY
    (migration 0009 keys the chain the previous release wrote); `note` lists any problem the
    unkeyed chain had when the operator chose to key it anyway."""

    __tablename__ = "ledger_keyings"
    id: Mapped[int] = mapped_column(primary_key=True)
    entries: Mapped[int] = mapped_column(BigInteger)
    legacy_head_hash: Mapped[str] = mapped_column(String(64))
    head_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(2000))
    keyed_at: Mapped[datetime]


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
