"""What every platform adapter offers the core (design §2, style §2)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from flask import Blueprint

from cards import Card, Message

T = TypeVar("T")


class DeliveryError(Exception):
    """A send or update failed.

    `retryable` says whether the worker should try again (5xx, timeouts, 429, expired token);
    `retry_after` (seconds) comes from the platform when it says how long to wait.
    """

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def unless_image_refused(
    step: Callable[[], T], logger: logging.Logger, message: str, ref: str
) -> T | None:
    """Run one step of getting a card's image out (upload, or WeCom's separate photo message);
    None when the platform refuses it for good, so the card goes out without it.

    The card matters more than its photo: the approver can still open the claim. A retryable
    error raises, and the whole send is tried again, image included. The refusal is logged as
    `message % (ref, error)`; DeliveryError messages name the call, status and code only (no
    token).
    """
    try:
        return step()
    except DeliveryError as exc:
        if exc.retryable:
            raise
        logger.warning(message, ref, exc)
        return None


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


class Adapter(Protocol):
    """A platform adapter. Only adapters import platform SDKs."""

    platform: str

    def blueprint(self) -> Blueprint | None:
        """Routes for inbound callbacks (registered by the app factory), or None."""

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Deliver one message. Raises DeliveryError."""

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """How many platform messages `send` takes for this message (pacing counts these)."""

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Bring one delivered copy of a card up to `card`; return a new external_ref or None.

        Raises DeliveryError.
        """

    def download_image(self, media_ref: str) -> bytes:
        """Fetch an inbound image's bytes (called by the worker, never in a request). Raises DeliveryError."""


class MediaLoader(Protocol):
    """Loads an image referenced by a card (`evidence:ID`) for upload."""

    def __call__(self, ref: str) -> MediaPayload | None: ...
