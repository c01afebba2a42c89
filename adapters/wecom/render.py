"""Renders neutral messages as WeCom (企业微信) app-message JSON: text, markdown, template_card.

Pure functions, no SDK. Limits come from the send doc
(https://developer.work.weixin.qq.com/document/path/90236, 按钮交互型):
main_title.title ≤ 36 chars, sub_title_text ≤ 112, horizontal_content_list ≤ 6 rows with keyname ≤ 5
and value ≤ 26, button_list ≤ 6 buttons with text ≤ 10 (recommended) and key ≤ 1024 bytes,
task_id ≤ 128 chars of [a-zA-Z0-9_-@]; text and markdown bodies ≤ 2048 bytes. button_interaction has
no image slot (card_image belongs to news_notice), so the adapter sends a card's photo separately.
"""

from __future__ import annotations

import re
from typing import Any

from cards import Card, Message, Text

TITLE_MAX = 36
SUBTITLE_MAX = 112
QUOTE_MAX = 200
BUTTONS_MAX = 6
BUTTON_TEXT_MAX = 10
ROWS_MAX = 6
KEYNAME_MAX = 5
VALUE_MAX = 26
BODY_MAX_BYTES = 2048
TASK_ID_MAX = 128
# Style numbers of button_list: 1 blue (primary), 2 grey, 3 red.
BUTTON_STYLES = {"primary": 1, "default": 2, "danger": 3}
# Key of the greyed-out button shown once a card is decided; its clicks are ignored by the adapter.
DONE_KEY = "done"

_TASK_ID_BAD = re.compile(r"[^A-Za-z0-9_\-@]")


def clip(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, ending with … when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def clip_bytes(text: str, limit: int = BODY_MAX_BYTES) -> str:
    """Cut `text` to at most `limit` UTF-8 bytes (WeCom truncates longer bodies mid-character)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode(errors="ignore") + "…"


def task_id_for(idempotency_key: str) -> str:
    """A task_id derived from the outbox key, so a retried send carries the same task_id."""
    return _TASK_ID_BAD.sub("_", f"pb-{idempotency_key}")[:TASK_ID_MAX]


def render_text(text: Text) -> dict[str, Any]:
    """A `text` app message body (without touser/agentid)."""
    return {"msgtype": "text", "text": {"content": clip_bytes(text.text)}}


def card_markdown(card: Card) -> str:
    """A card without buttons as WeCom markdown (title in bold, fields as `label：value`)."""
    parts = [f"**{card.title}**", *card.lines]
    parts += [f"{f.label}：{f.value}" for f in card.fields]
    if card.status:
        parts.append(f'<font color="info">{card.status}</font>')
    if card.note:
        parts.append(f'<font color="comment">{card.note}</font>')
    return clip_bytes("\n".join(parts))


def render_markdown(card: Card) -> dict[str, Any]:
    """A `markdown` app message body for a card that offers nothing to tap."""
    return {"msgtype": "markdown", "markdown": {"content": card_markdown(card)}}


def status_label(status: str) -> str:
    """The short word of a status line for the greyed-out button: `已通过 · 王主管 · 10:00` → 已通过."""
    first = status.split("\n", 1)[0]
    return clip(first.split(" · ", 1)[0].strip() or "已处理", BUTTON_TEXT_MAX)


def _rows(card: Card) -> list[dict[str, str]]:
    rows = [
        {"keyname": clip(f.label, KEYNAME_MAX), "value": clip(f.value, VALUE_MAX)}
        for f in card.fields
    ]
    if not rows and not card.status:
        # Labels too long for a button are spelled out above the buttons (rule pickers:
        # `A01 发现模具磨损隐患并报修 +20` → keyname A01, value 发现模具磨损隐患并报修 +20).
        for b in card.buttons[:BUTTONS_MAX]:
            if len(b.label) > BUTTON_TEXT_MAX:
                head, _, rest = b.label.partition(" ")
                if rest and len(head) <= KEYNAME_MAX:
                    rows.append({"keyname": head, "value": clip(rest, VALUE_MAX)})
                else:
                    rows.append({"keyname": "·", "value": clip(b.label, VALUE_MAX)})
    return rows[:ROWS_MAX]


def render_template_card(card: Card, task_id: str) -> dict[str, Any]:
    """The `template_card` object (按钮交互型) for a card; a decided card (status, no buttons)
    keeps one greyed-out button whose text is the status word (replace_text)."""
    lines = list(card.lines)
    if card.status:
        lines.append(card.status)
    template: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": clip(card.title, TITLE_MAX)},
        "task_id": task_id[:TASK_ID_MAX],
    }
    if lines:
        template["sub_title_text"] = clip("\n".join(lines), SUBTITLE_MAX)
    if card.note:
        template["quote_area"] = {"type": 0, "quote_text": clip(card.note, QUOTE_MAX)}
    rows = _rows(card)
    if rows:
        template["horizontal_content_list"] = rows
    if card.status or not card.buttons:
        label = status_label(card.status or "已处理")
        template["button_list"] = [{"text": label, "style": 2, "key": DONE_KEY}]
        template["replace_text"] = label
    else:
        template["button_list"] = [
            {
                "text": clip(b.label, BUTTON_TEXT_MAX),
                "style": BUTTON_STYLES.get(b.style, 2),
                "key": b.value,
            }
            for b in card.buttons[:BUTTONS_MAX]
        ]
    return template


def is_interactive(message: Message) -> bool:
    """True when the message is sent as a template_card (a card with buttons and no status)."""
    return isinstance(message, Card) and bool(message.buttons) and not message.status


def render_message(message: Message, *, task_id: str) -> dict[str, Any]:
    """The app message body for `message`: text, markdown (cards without buttons) or a
    `template_card` with duplicate checking (retries of one send share content and task_id)."""
    if isinstance(message, Text):
        return render_text(message)
    if not is_interactive(message):
        return render_markdown(message)
    return {
        "msgtype": "template_card",
        "template_card": render_template_card(message, task_id),
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }
