"""Renders neutral messages as HTML fragments for the local web chat."""

from __future__ import annotations

from markupsafe import Markup, escape

from cards import Card, Message, Text

STYLE_CLASS = {"primary": "btn-primary", "danger": "btn-danger", "default": "btn-default"}
# A longer text (a 1,000-character note) shows its start and a 展开 that reveals the rest, so
# one card never fills a phone screen and pushes its buttons out of sight.
CLIP_AT = 120
SHOWN = 90
EXPAND = "展开"
PHOTO_ALT = "我发送的照片"


def _lines(text: str) -> Markup:
    return Markup("<br>").join(escape(line) for line in text.split("\n"))


def _clipped(text: str) -> Markup:
    """The text, or its start and a <details> 展开 holding the whole of it when it is long."""
    if len(text) <= CLIP_AT:
        return _lines(text)
    return Markup(
        '<span class="clip"><span class="short">{}…</span>'
        '<details class="more"><summary>{}</summary>{}</details></span>'
    ).format(_lines(text[:SHOWN]), EXPAND, _lines(text))


def render_html(message: Message, *, image_url: str | None = None) -> str:
    """A self-contained HTML fragment; button values go in data attributes for the page's JS."""
    if isinstance(message, Text):
        return str(Markup('<div class="text">{}</div>').format(_clipped(message.text)))
    return _render_card(message, image_url)


def render_photo(url: str) -> str:
    """The thumbnail of a photo the person sent, as their own line shows it."""
    return str(Markup('<img class="sent-photo" src="{}" alt="{}">').format(url, PHOTO_ALT))


def _render_card(card: Card, image_url: str | None) -> str:
    parts = [Markup('<div class="card"><div class="card-title">{}</div>').format(card.title)]
    if image_url:
        parts.append(Markup('<img class="card-img" src="{}" alt="证据照片">').format(image_url))
    for line in card.lines:
        parts.append(Markup('<div class="card-line">{}</div>').format(_clipped(line)))
    if card.fields:
        rows = Markup("").join(
            Markup("<tr><th>{}</th><td>{}</td></tr>").format(f.label, _clipped(f.value))
            for f in card.fields
        )
        parts.append(Markup('<table class="card-fields">{}</table>').format(rows))
    if card.status:
        parts.append(Markup('<div class="card-status">{}</div>').format(_lines(card.status)))
    elif card.buttons:
        buttons = Markup("").join(
            Markup('<button class="btn {}" data-value="{}">{}</button>').format(
                STYLE_CLASS.get(b.style, "btn-default"), b.value, b.label
            )
            for b in card.buttons
        )
        parts.append(Markup('<div class="card-buttons">{}</div>').format(buttons))
    if card.note:
        parts.append(Markup('<div class="card-note">{}</div>').format(_lines(card.note)))
    parts.append(Markup("</div>"))
    return str(Markup("").join(parts))
