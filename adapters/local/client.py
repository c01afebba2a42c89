"""The web chat's outbound side: messages are local_messages rows the page polls."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.db import session_scope
from bot.models import Employee, LocalMessage
from bot.ports import DeliveryError, MediaLoader, Recipient, SendResult
from cards import Card, Message

if TYPE_CHECKING:
    from bot.state import BotState


def incoming_dir(state: BotState) -> Path:
    """Where the page's uploaded photos wait for the worker (media/incoming)."""
    return state.config.media_dir / "incoming"


class LocalClient:
    """Sends and card updates as local_messages rows; downloads from media/incoming."""

    def __init__(self, state: BotState):
        self.state = state
        self.incoming = incoming_dir(state)

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """One platform message per send."""
        return 1

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Append the message to the employee's chat."""
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            employee = self._employee(session, recipient)
            row = LocalMessage(
                employee_id=employee.id,
                direction="out",
                body=message.to_dict(),
                card_key=message.key if isinstance(message, Card) else None,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return SendResult({"message_id": row.id})

    def _employee(self, session: Any, recipient: Recipient) -> Employee:
        employee = None
        if recipient.user_id:
            employee = session.scalar(
                select(Employee).where(Employee.employee_no == recipient.user_id)
            )
        if employee is None and recipient.employee_id:
            employee = session.get(Employee, recipient.employee_id)
        if employee is None:
            raise DeliveryError("local: unknown recipient", retryable=False)
        return employee

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Replace the card in place; the page re-renders it on its next poll."""
        with session_scope(self.state.session_factory) as session:
            row = session.get(LocalMessage, external_ref.get("message_id"))
            if row is None:
                raise DeliveryError("local: message gone", retryable=False)
            row.body, row.updated_at = card.to_dict(), self.state.clock.now()
        return None

    def download_image(self, media_ref: str) -> bytes:
        """Read a photo the page uploaded (staged under media/incoming)."""
        name = Path(media_ref).name
        path = self.incoming / name
        if not name or not path.is_file():
            raise DeliveryError("local: upload missing", retryable=False)
        data = path.read_bytes()
        path.unlink(missing_ok=True)
        return data
