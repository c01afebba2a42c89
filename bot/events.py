"""The neutral inbound Event every adapter produces (design §6)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """What happened in the chat."""

    TEXT = "text"
    IMAGE = "image"
    CARD_ACTION = "card_action"
    ENTER = "enter"


@dataclass(frozen=True, slots=True)
class Event:
    """One normalized inbound message or click.

    `reply_to` is opaque to handlers: the adapter's own address for answering in the same
    conversation (a chat id, a session webhook); it travels with the outbox row untouched.
    """

    platform: str
    kind: EventKind
    sender_id: str
    dedupe_key: str
    received_at: datetime
    text: str = ""
    media_ref: str | None = None
    action_value: str | None = None
    action_input: str | None = None
    chat_id: str | None = None
    reply_to: dict[str, Any] | None = None
    card_ref: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict for InboundEvent.payload."""
        # A shallow copy: asdict() deep-copies and costs ~0.2 ms inside the callback deadline.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["kind"] = str(self.kind)
        data["received_at"] = self.received_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Inverse of to_dict."""
        values = dict(data)
        values["kind"] = EventKind(values["kind"])
        values["received_at"] = datetime.fromisoformat(values["received_at"])
        return cls(**values)
