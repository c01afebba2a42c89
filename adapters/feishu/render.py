"""Renders neutral messages as Feishu message content: text JSON and card JSON 2.0 (卡片).

Pure functions: the adapter uploads the card's image first and passes the resulting
`image_key`; everything else comes from the Card itself.
"""

from __future__ import annotations

from typing import Any

from cards import Card, Message, Text

BUTTON_TYPES = {"primary": "primary", "danger": "danger", "default": "default"}
IMAGE_ALT = "证据照片"

# Feishu card markdown treats these as syntax (and `<at id=all>` as a mention of everyone);
# user text (notes, reasons, names) is shown literally via HTML entities, which card
# markdown decodes (Feishu card docs, "特殊字符转义").
_MD_ESCAPES = {
    "<": "&#60;",
    ">": "&#62;",
    "*": "&#42;",
    "_": "&#95;",
    "~": "&#126;",
    "`": "&#96;",
    "[": "&#91;",
    "]": "&#93;",
}
_MD_TABLE = str.maketrans(_MD_ESCAPES)


def escape_md(text: str) -> str:
    """`text` with Feishu card-markdown syntax characters replaced by entities."""
    return text.translate(_MD_TABLE)


def render_text(text: Text) -> dict[str, Any]:
    """Content of a `msg_type=text` message (the caller JSON-encodes it)."""
    return {"text": text.text}


def header_template(card: Card) -> str:
    """Header colour: blue while waiting for a tap, green/red/grey once decided."""
    if not card.status:
        return "blue"
    if card.status.startswith("已通过"):
        return "green"
    if card.status.startswith("已驳回"):
        return "red"
    return "grey"


def _markdown(content: str, **extra: Any) -> dict[str, Any]:
    return {"tag": "markdown", "content": content, **extra}


def _button(label: str, value: str, style: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "text": {"tag": "plain_text", "content": label},
        "type": BUTTON_TYPES.get(style, "default"),
        "width": "default",
        "behaviors": [{"type": "callback", "value": {"v": value}}],
    }


def _buttons(card: Card) -> dict[str, Any]:
    # Card JSON 2.0 has no `action` module; buttons sit in a flowing column set.
    return {
        "tag": "column_set",
        "flex_mode": "flow",
        "horizontal_spacing": "8px",
        "columns": [
            {
                "tag": "column",
                "width": "auto",
                "elements": [_button(b.label, b.value, b.style)],
            }
            for b in card.buttons
        ],
    }


def render_card(card: Card, *, image_key: str | None = None) -> dict[str, Any]:
    """Card JSON 2.0: header, optional image, lines, fields, then buttons or the status line.

    Once `status` is set the buttons are gone and the status shows as markdown instead, so
    every updated copy reads e.g. `已通过 · 王主管 · 10:00`.
    """
    elements: list[dict[str, Any]] = []
    if image_key:
        elements.append(
            {
                "tag": "img",
                "img_key": image_key,
                "alt": {"tag": "plain_text", "content": IMAGE_ALT},
                "scale_type": "fit_horizontal",
            }
        )
    elements += [_markdown(escape_md(line)) for line in card.lines]
    if card.fields:
        rows = [f"**{escape_md(f.label)}**：{escape_md(f.value)}" for f in card.fields]
        elements.append(_markdown("\n".join(rows)))
    if card.status:
        elements.append(_markdown(escape_md(card.status)))
    elif card.buttons:
        elements.append(_buttons(card))
    if card.note:
        elements.append(_markdown(escape_md(card.note), text_size="notation"))
    return {
        "schema": "2.0",
        "config": {"update_multi": True},
        "header": {
            "title": {"tag": "plain_text", "content": card.title},
            "template": header_template(card),
        },
        "body": {"elements": elements},
    }


def render(message: Message, *, image_key: str | None = None) -> tuple[str, dict[str, Any]]:
    """(`msg_type`, content dict) for POST /im/v1/messages."""
    if isinstance(message, Text):
        return "text", render_text(message)
    return "interactive", render_card(message, image_key=image_key)


def button_values(card_json: dict[str, Any]) -> dict[str, str]:
    """label → signed value of every button in rendered card JSON (tests, debugging)."""
    out: dict[str, str] = {}
    for element in card_json.get("body", {}).get("elements", []):
        for column in element.get("columns", []) if element.get("tag") == "column_set" else []:
            for button in column.get("elements", []):
                if button.get("tag") == "button":
                    out[button["text"]["content"]] = button["behaviors"][0]["value"]["v"]
    return out
