"""Drive the local web chat through its real HTTP routes, errbot-style one-liners."""

from __future__ import annotations

import io
import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Employee, LocalMessage
from cards import Button, Card, Message, message_from_dict

_ids = itertools.count(1)


def _number(who: Employee | str) -> str:
    """The employee number the page posts as (an Employee, or the number itself)."""
    return who if isinstance(who, str) else who.employee_no


def say(client: Any, who: Employee | str, text: str, client_id: str | None = None) -> Any:
    """Post a text line as `who` (the same `client_id` twice is one message sent twice)."""
    return client.post(
        "/local/api/send",
        data={"employee": _number(who), "text": text, "client_id": client_id or f"c{next(_ids)}"},
    )


def send_photo(client: Any, who: Employee | str, data: bytes, name: str = "photo.jpg") -> Any:
    """Upload a photo as `who`."""
    return client.post(
        "/local/api/send",
        data={
            "employee": _number(who),
            "client_id": f"c{next(_ids)}",
            "photo": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def press(client: Any, who: Employee | str, button: Button, client_id: str | None = None) -> Any:
    """Press a card button as `who`."""
    return client.post(
        "/local/api/action",
        data={
            "employee": _number(who),
            "value": button.value,
            "label": button.label,
            "client_id": client_id or f"c{next(_ids)}",
        },
    )


def inbox(session: Session, who: Employee) -> list[Message]:
    """Everything the bot has sent `who`, oldest first (cards at their current version)."""
    rows = session.scalars(
        select(LocalMessage)
        .where(LocalMessage.employee_id == who.id, LocalMessage.direction == "out")
        .order_by(LocalMessage.id)
    )
    return [message_from_dict(r.body) for r in rows]


def last(session: Session, who: Employee) -> Message:
    """The newest message sent to `who`."""
    messages = inbox(session, who)
    assert messages, f"nothing was sent to {who.name}"
    return messages[-1]


def last_card(session: Session, who: Employee, title_prefix: str = "") -> Card:
    """The newest card sent to `who` (optionally with a title prefix)."""
    for message in reversed(inbox(session, who)):
        if isinstance(message, Card) and message.title.startswith(title_prefix):
            return message
    raise AssertionError(f"no card {title_prefix!r} sent to {who.name}")


def button(card: Card, label_prefix: str) -> Button:
    """The card's button whose label starts with `label_prefix`."""
    for b in card.buttons:
        if b.label.startswith(label_prefix):
            return b
    raise AssertionError(
        f"no button {label_prefix!r} on {card.title}: {[b.label for b in card.buttons]}"
    )
