"""Reviews (design §14): weekly check-ins, likes, 360 surveys and broadcasts with read receipts."""

from __future__ import annotations

from datetime import datetime
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
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class Checkin(Base):
    """One worker's weekly check-in (周五签到): the ask sent, the done items it listed, and,
    once confirmed, the streak it makes and the voucher it earned."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("employee_id", "week"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    week: Mapped[str] = mapped_column(String(10))  # ISO week, 2026-W48
    ask_id: Mapped[int | None] = mapped_column(ForeignKey("asks.id"))
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    checked_in_at: Mapped[datetime | None]
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    streak: Mapped[int] = mapped_column(Integer, default=0)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    created_at: Mapped[datetime]


class Like(Base):
    """A like (点赞) from one colleague to another, with an optional reason; no points."""

    __tablename__ = "likes"
    __table_args__ = (
        Index("ix_likes_giver_week", "giver_id", "week"),
        Index("ix_likes_receiver_created", "receiver_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    reason: Mapped[str | None] = mapped_column(String(200))
    week: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]


class Survey(Base):
    """A 360 questionnaire (360 问卷): questions (`{"text", "kind": "scale"|"text"}`) asked
    about each subject of a set of raters, one question per card."""

    __tablename__ = "surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class SurveyRater(Base):
    """Who is asked about whom (the assignment, not an answer)."""

    __tablename__ = "survey_raters"
    __table_args__ = (UniqueConstraint("survey_id", "subject_id", "rater_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))


class SurveyAnswer(Base):
    """One anonymous answer: the survey, the subject, the question and the value, never who
    gave it nor when. The key is random and SQLite keeps no rowid, so neither the key nor the
    storage order follows the order answers came in."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        Index("ix_survey_answers_subject", "survey_id", "subject_id"),
        {"sqlite_with_rowid": False},
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    question: Mapped[int] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(String(500))


class SurveyRelease(Base):
    """The results of one subject as released to them and their supervisor: the aggregates
    (averages per scale question, the text answers in random order) over the answers given
    when `raters` raters had finished. A release is made only when at least three more raters
    have finished than at the previous one, so the difference between two releases never
    isolates one rater's answers."""

    __tablename__ = "survey_releases"
    __table_args__ = (UniqueConstraint("survey_id", "subject_id", "raters"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    raters: Mapped[int] = mapped_column(Integer)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Broadcast(Base):
    """A notice from HR to many people (通知); `important` ones ask each person for 已读."""

    __tablename__ = "broadcasts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(String(2000))
    important: Mapped[bool] = mapped_column(Boolean, default=True)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))
    source: Mapped[str] = mapped_column(String(20))  # chat | api | console
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
