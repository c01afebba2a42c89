"""Inbound deliveries, the outbox, card versions and copies, chat context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.models.base import Base


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
        Index("ix_outbox_batch", "batch_key", "state"),
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
    # Rows written together with identical content (a broadcast): delivery sends them with the
    # platform's batch send where it has one (bot/runtime/batching.py).
    batch_key: Mapped[str | None] = mapped_column(String(40))


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
