"""Renders neutral messages for DingTalk (钉钉): robot text, the built-in StandardCard and
a card-builder template's parameter map.

Pure functions: the adapter uploads the card's image first and passes the resulting media id.

Sources, so a reader knows what is proved and what is a guess:
* [doc] StandardCard cardData (`config` / `header.title` / `contents` with `text`, `markdown`,
  `image` (a media id like `@lADP…`), `divider`, and `action` holding `button`s with
  `actionType: "request"`): dingtalk-stream-sdk-python `interactive_card.py` samples, sent by its
  `reply_card` as the JSON *string* `cardData` of `/v1.0/im/v1.0/robot/interactiveCards/send`.
* [doc] A click on a `request` button reaches the callback as `content` =
  `{"cardPrivateData": {"actionIds": [<button id>], "params": {…}}}` (CardCallbackMessage).
* [assumed] That a StandardCard button's `params` object is echoed back in
  `cardPrivateData.params`; no source shows it. The adapter therefore also accepts the value
  when it arrives under `cardPrivateData.params.value` from a template button whose params are
  bound to the `buttons[].value` loop variable (design §11: the signed value travels in params).
* [assumed] Template mode: `cardParamMap` values are strings (the v1.0 API types it
  `map<string,string>`), so lists travel JSON-encoded; the template binds `title`, `lines`,
  `fields`, `image`, `status`, `note` and loops over `buttons` (`text`, `value`, `color`).
"""

from __future__ import annotations

import json
from typing import Any

from cards import Card, Text

VALUE_PARAM = "value"  # the params key carrying the signed button value (design §11)
BUTTON_STATUS = {"primary": "primary", "danger": "warning", "default": "normal"}
TEXT_LIMIT = 4000  # sampleText content; DingTalk truncates long texts (keep a phone screen)


def text_message(text: Text) -> tuple[str, dict[str, Any]]:
    """(`msgKey`, `msgParam`) of a robot text message; the caller JSON-encodes msgParam."""
    return "sampleText", {"content": text.text[:TEXT_LIMIT]}


def is_static(card: Card) -> bool:
    """True for a card nobody acts on or updates (no buttons, key or image): sent as text."""
    return not card.buttons and not card.key and not card.image


def webhook_text(text: Text) -> dict[str, Any]:
    """Body for a conversation's sessionWebhook (answer while the webhook is valid)."""
    return {"msgtype": "text", "text": {"content": text.text[:TEXT_LIMIT]}}


def _text(component_id: str, text: str) -> dict[str, Any]:
    # Plain `text` components show user input (notes, reasons) literally: no markdown injection.
    return {"type": "text", "text": text, "id": component_id}


def _button(index: int, label: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "label": {"type": "text", "text": label, "id": f"label_{index}"},
        "actionType": "request",
        "status": BUTTON_STATUS.get(style, "normal"),
        "id": f"button_{index}",
        "params": {VALUE_PARAM: value},
    }


def render_standard_card(card: Card, *, image_media_id: str | None = None) -> dict[str, Any]:
    """StandardCard cardData (a dict; the adapter JSON-encodes it into the request).

    Buttons appear only while the card has no `status`; afterwards the status line replaces them.
    """
    contents: list[dict[str, Any]] = []
    if image_media_id:
        contents.append({"type": "image", "image": image_media_id, "id": "image"})
    for i, line in enumerate(card.lines):
        contents.append(_text(f"line_{i}", line))
    if card.fields:
        contents.append({"type": "divider", "id": "divider_fields"})
        for i, f in enumerate(card.fields):
            contents.append(_text(f"field_{i}", f"{f.label}：{f.value}"))
    if card.status:
        contents.append({"type": "divider", "id": "divider_status"})
        contents.append(_text("status", card.status))
    elif card.buttons:
        contents.append(
            {
                "type": "action",
                "actions": [
                    _button(i, b.label, b.value, b.style) for i, b in enumerate(card.buttons)
                ],
                "id": "actions",
            }
        )
    if card.note:
        contents.append(_text("note", card.note))
    return {
        # Forwarded copies would show buttons to people they were not signed for.
        "config": {"autoLayout": True, "enableForward": False},
        "header": {"title": {"type": "text", "text": card.title}},
        "contents": contents,
    }


def render_template_params(card: Card, *, image_media_id: str | None = None) -> dict[str, str]:
    """`cardParamMap` for a card-builder template (DINGTALK_CARD_TEMPLATE_ID); all values strings."""
    buttons = [] if card.status else card.buttons
    return {
        "title": card.title,
        "lines": "\n".join(card.lines),
        "fields": json.dumps(
            [{"label": f.label, "value": f.value} for f in card.fields], ensure_ascii=False
        ),
        "image": image_media_id or "",
        "status": card.status or "",
        "note": card.note or "",
        "buttons": json.dumps(
            [
                {"text": b.label, VALUE_PARAM: b.value, "color": BUTTON_STATUS.get(b.style)}
                for b in buttons
            ],
            ensure_ascii=False,
        ),
        "has_buttons": "true" if buttons else "false",
    }


def read_action_value(content: Any) -> str | None:
    """The signed value from a card callback's `content` (JSON string or dict), or None."""
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except (ValueError, RecursionError):  # RecursionError: nesting too deep to parse
            return None
    if not isinstance(content, dict):
        return None
    private = content.get("cardPrivateData")
    params = private.get("params") if isinstance(private, dict) else None
    value = params.get(VALUE_PARAM) if isinstance(params, dict) else None
    return value if isinstance(value, str) and value else None
