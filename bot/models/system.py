"""Shared cache, audit log, job runs, the scheduler lease, the calendar and settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


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
