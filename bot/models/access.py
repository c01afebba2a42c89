"""Who may use the HR console and how they got in: one-time sign-in codes and console sessions
(控制台登录)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


class SignInCode(Base):
    """A 6-digit code sent to a person's messenger to sign in to the console (登录验证码).

    Only a keyed hash of the code is stored; `attempts` counts wrong and right tries alike, so
    concurrent guesses each use one of the five.
    """

    __tablename__ = "sign_in_codes"
    __table_args__ = (Index("ix_sign_in_codes_employee_created", "employee_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in console browser: the cookie holds a random token, this row its hash."""

    __tablename__ = "console_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("employees.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(200))
