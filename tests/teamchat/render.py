"""teamchat's renderer: a neutral Text or Card as a chat.post body (pure functions, no HTTP)."""

from __future__ import annotations

from typing import Any

from cards import Card, Message, Text


def render(message: Message, *, file_id: str | None = None) -> dict[str, Any]:
    """`text` (what notifications show) and, for a card, its `blocks`; `file_id` is the card's
    uploaded photo."""
    if isinstance(message, Text):
        return {"text": message.text}
    return {"text": message.as_text(), "blocks": card_blocks(message, file_id=file_id)}


def card_blocks(card: Card, *, file_id: str | None = None) -> list[dict[str, Any]]:
    """Header, photo, lines, fields, then the buttons, or the status once decided."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": card.title}]
    if file_id:
        blocks.append({"type": "image", "file_id": file_id})
    blocks += [{"type": "section", "text": line} for line in card.lines]
    if card.fields:
        fields = [{"label": f.label, "value": f.value} for f in card.fields]
        blocks.append({"type": "fields", "fields": fields})
    if card.status:
        blocks.append({"type": "status", "text": card.status})
    elif card.buttons:
        buttons = [{"label": b.label, "value": b.value, "style": b.style} for b in card.buttons]
        blocks.append({"type": "actions", "buttons": buttons})
    if card.note:
        blocks.append({"type": "context", "text": card.note})
    return blocks
