"""The adapter a platform package exports: its inbound routes and its client, composed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.ports import DeliveryError, Event, MediaLoader, Recipient, SendResult
from cards import Card, Message


class Inbound(Protocol):
    """A platform's callback routes (verify, decrypt, dedupe, record an Event, or refuse)."""

    def blueprint(self) -> Any:
        """The Flask Blueprint of the platform's routes."""


class Client(Protocol):
    """A platform's outbound side: sends, card updates and image downloads."""

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Deliver one message. Raises DeliveryError."""

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """How many platform messages `send` takes for this message."""

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Bring one delivered copy of a card up to `card`. Raises DeliveryError."""

    def download_image(self, media_ref: str) -> bytes:
        """Fetch an inbound image's bytes. Raises DeliveryError."""


class ComposedAdapter:
    """The bot.ports.Adapter of one platform: routes from `inbound`, the rest from `client`."""

    platform: str

    def __init__(self, inbound: Inbound, client: Client):
        self.inbound = inbound
        self.client = client

    def blueprint(self) -> Any:
        """The platform's callback routes."""
        return self.inbound.blueprint()

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Deliver one message. Raises DeliveryError."""
        return self.client.send(recipient, message, idempotency_key=idempotency_key, media=media)

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """How many platform messages `send` takes for this message (pacing counts these)."""
        return self.client.send_cost(recipient, message)

    def batch_limit(self, message: Message) -> int:
        """Users one batch call may address with `message`; 1 when the client has no batch send."""
        limit = getattr(self.client, "batch_limit", None)
        return limit(message) if limit is not None else 1

    def send_batch(
        self,
        recipients: Sequence[Recipient],
        message: Message,
        *,
        idempotency_key: str,
        media: MediaLoader,
    ) -> list[SendResult | DeliveryError]:
        """One call to several users; one outcome per recipient. Raises DeliveryError."""
        return self.client.send_batch(  # type: ignore[attr-defined]
            recipients, message, idempotency_key=idempotency_key, media=media
        )

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Bring one delivered copy of a card up to `card`. Raises DeliveryError."""
        return self.client.update_card(external_ref, card, media=media)

    def download_image(self, media_ref: str) -> bytes:
        """Fetch an inbound image's bytes (worker only). Raises DeliveryError."""
        return self.client.download_image(media_ref)

    def redact_inbound(self, session: Any, event: Event) -> None:
        """Blank the adapter's own copy of an inbound event, if its inbound side keeps one."""
        redact = getattr(self.inbound, "redact_inbound", None)
        if redact is not None:
            redact(session, event)
