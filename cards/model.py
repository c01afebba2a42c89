"""The neutral Reply/Card model (design §6); each adapter's render.py maps it to its platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Text:
    """A plain text message (short lines, fits a phone)."""

    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the outbox."""
        return {"type": "text", "text": self.text}


@dataclass(frozen=True, slots=True)
class Button:
    """A card button; `value` is a signed action token (bot.signing)."""

    label: str
    value: str
    style: str = "default"  # primary | danger | default


@dataclass(frozen=True, slots=True)
class Field:
    """A label/value pair shown on a card."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Card:
    """An interactive card.

    `key` names the card across copies (e.g. `claim:42`) so a later version can replace every
    delivered copy; `status` is the final-state line shown instead of buttons once acted upon;
    `image` is an evidence reference (`evidence:ID`) each renderer turns into its own form.
    """

    title: str
    lines: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    status: str | None = None
    key: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the outbox and the cards table."""
        return {
            "type": "card",
            "title": self.title,
            "lines": list(self.lines),
            "fields": [[f.label, f.value] for f in self.fields],
            "buttons": [[b.label, b.value, b.style] for b in self.buttons],
            "image": self.image,
            "status": self.status,
            "key": self.key,
            "note": self.note,
            "extra": self.extra,
        }

    def as_text(self) -> str:
        """A plain-text fallback (for platforms or places without cards)."""
        parts = [f"【{self.title}】", *self.lines]
        parts += [f"{f.label}：{f.value}" for f in self.fields]
        if self.status:
            parts.append(self.status)
        if self.note:
            parts.append(self.note)
        return "\n".join(parts)


Message = Text | Card


def message_from_dict(data: dict[str, Any]) -> Message:
    """Rebuild a Text or Card from its to_dict form."""
    if data["type"] == "text":
        return Text(data["text"])
    return Card(
        title=data["title"],
        lines=tuple(data.get("lines") or ()),
        fields=tuple(Field(a, b) for a, b in data.get("fields") or ()),
        buttons=tuple(Button(a, b, c) for a, b, c in data.get("buttons") or ()),
        image=data.get("image"),
        status=data.get("status"),
        key=data.get("key"),
        note=data.get("note"),
        extra=data.get("extra") or {},
    )
