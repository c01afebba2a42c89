"""The ports between the core and the platforms (design §2): the neutral inbound Event, where a
message goes (Recipient), what a send returned (SendResult), how it failed (DeliveryError), and
the Adapter protocol every platform implements. No Flask, no SDK: adapters import this module,
the core never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from cards import Card, Message


class EventKind(StrEnum):
    """What happened in the chat."""

    TEXT = "text"
    IMAGE = "image"
    CARD_ACTION = "card_action"
    ENTER = "enter"


@dataclass(frozen=True, slots=True)
class Event:
    """One normalized inbound message or click (design §6).

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


class DeliveryError(Exception):
    """A send, update or download failed.

    `retryable` says whether the worker should try again (5xx, timeouts, 429, expired token);
    `retry_after` (seconds) comes from the platform when it says how long to wait.
    """

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where to deliver: an employee's id on the platform, or a group chat, or a reply context."""

    employee_id: int | None
    user_id: str | None = None
    chat_id: str | None = None
    reply_to: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the platform returned that a later card update needs (msgid, response_code, …)."""

    external_ref: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MediaPayload:
    """Bytes of an image the adapter must upload (evidence photos, leaderboard images)."""

    data: bytes
    filename: str
    mime_type: str


class MediaLoader(Protocol):
    """Loads an image referenced by a card (`evidence:ID`, `media:PATH`) for upload."""

    def __call__(self, ref: str) -> MediaPayload | None: ...


class Adapter(Protocol):
    """A platform adapter: inbound routes, sends, card updates and image downloads.

    Only adapters import platform SDKs and build platform JSON/XML.
    """

    platform: str

    def blueprint(self) -> Any:
        """The web routes for inbound callbacks (a Flask Blueprint), or None."""

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Deliver one message. Raises DeliveryError."""

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """How many platform messages `send` takes for this message (pacing counts these)."""

    def batch_limit(self, message: Message) -> int:
        """How many users one `send_batch` call may address with `message` (the platform's
        documented per-call maximum); 1 when the platform has no batch send for it."""

    def send_batch(
        self,
        recipients: Sequence[Recipient],
        message: Message,
        *,
        idempotency_key: str,
        media: MediaLoader,
    ) -> list[SendResult | DeliveryError]:
        """Deliver the same message to several users in one call: one outcome per recipient,
        in order (a recipient the platform refused gets a DeliveryError).

        Raises:
            DeliveryError: the call itself failed (for every recipient).
        """

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Bring one delivered copy of a card up to `card`; return a new external_ref or None.

        Raises DeliveryError.
        """

    def download_image(self, media_ref: str) -> bytes:
        """Fetch an inbound image's bytes (worker only, never in a request). Raises DeliveryError."""

    def redact_inbound(self, session: Any, event: Event) -> None:
        """Blank whatever copy of `event` the adapter itself keeps (an anonymous answer), in
        the worker's transaction; most platforms keep none."""
