"""The rule catalogue, campaigns, evidence photos and claims (申领)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models.base import Base
from bot.models.org import Employee


class ClaimState(StrEnum):
    """Life of a claim (申领)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


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


class EvidenceHash(Base):
    """The perceptual hashes of one centre crop of an evidence photo (照片指纹), found by band:
    `band0`…`band3` are exact-match keys cut from the crop's low-frequency hash
    (bot/services/photohash.py); `signs`, the crop's 255-bit hash, confirms a candidate."""

    __tablename__ = "evidence_hashes"
    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    crop: Mapped[int] = mapped_column(SmallInteger)
    signs: Mapped[bytes] = mapped_column(LargeBinary(32))
    band0: Mapped[int] = mapped_column(Integer, index=True)
    band1: Mapped[int] = mapped_column(Integer, index=True)
    band2: Mapped[int] = mapped_column(Integer, index=True)
    band3: Mapped[int] = mapped_column(Integer, index=True)


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
