"""我的待办: the signed-in person's open asks (design §12), answered here through the same asks
engine as a button in chat — claim approvals today, and redemption approvals, appeals and any
later kind the day its feature opens asks for HR, with no change here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request, send_file, url_for

import console.labels as labels
from bot import asks
from bot.db import ROW_ID_MAX
from bot.errors import BotError, InvalidInput
from bot.models import Ask, Evidence
from bot.notices import asks as ask_texts
from bot.services.evidence import photo_path
from cards import Card, Message, Text
from console.pages.base import Page
from console.web import age, db, flash, local, me, now, page, state

PHOTO_IN_CHAT = "这个选项需要照片，请在聊天中点同一个按钮后发送照片。"
DONE = "已处理：{title}"
TEXT_NEEDS = (asks.Needs.REASON, asks.Needs.TEXT, asks.Needs.TEXT_OR_PHOTO)


def _choices(ask: Ask) -> list[dict[str, Any]]:
    return [
        {
            "key": c.key,
            "label": c.label,
            "style": c.style,
            "needs_text": c.needs in TEXT_NEEDS,
            "needs_number": c.needs == asks.Needs.NUMBER,
            "needs_photo": c.needs == asks.Needs.PHOTO,
            "reasons": c.reasons,
            "prompt": c.prompt or "",
        }
        for c in asks.choices_of(ask)
        if c.final or ask.state == "open"
    ]


def view() -> str:
    """The open asks waiting for the signed-in person, oldest first, with their choices."""
    with db() as session:
        waiting = asks.open_asks_of(session, me(session).id)
        items = []
        for ask in waiting:
            card = asks.content_of(ask)
            items.append(
                {
                    "id": ask.id,
                    "kind": labels.ask_kind(ask.kind),
                    "title": ask.title,
                    "card": card,
                    "image": _image_url(card),
                    "age": age(ask.created_at),
                    "due": local(ask.due_at),
                    "overdue": ask.due_at is not None and ask.due_at < now(),
                    "choices": _choices(ask),
                }
            )
    return page("console/tasks.html", items=items)


def _image_url(card: Card) -> str | None:
    if card.image and card.image.startswith("evidence:"):
        return url_for("console.evidence", evidence_id=int(card.image.split(":", 1)[1]))
    return None


def answer(ask_id: int) -> Any:
    """One choice on one ask, with its reason or number when the choice needs one."""
    key = request.form.get("choice", "")
    reason = (request.form.get("reason") or request.form.get("text") or "").strip()
    with db() as session:
        person = me(session)
        try:
            with session.begin_nested():
                ask = asks.lock(session, ask_id)
                asks.ensure_live(session, ask, state().config.tz)
                if not asks.may_answer(session, ask, person):
                    abort(403)
                choice = asks.choice_of(ask, key)
                if choice is None:
                    raise InvalidInput(ask_texts.UNKNOWN_CHOICE)
                if choice.needs == asks.Needs.PHOTO:
                    raise InvalidInput(PHOTO_IN_CHAT)
                number = _number(choice)
                replies = asks.answer(
                    session, ask, person, choice, now=now(), tz=state().config.tz,
                    signer=state().signer, reason=reason or None, number=number,
                )  # fmt: skip
            flash(session, _said(replies) or DONE.format(title=ask.title))
        except BotError as exc:
            flash(session, exc.user_message, "error")
    state().notify_worker()
    return redirect(url_for("console.tasks"))


def _number(choice: asks.Choice) -> int | None:
    if choice.needs != asks.Needs.NUMBER:
        return None
    raw = (request.form.get("number") or "").strip()
    if not raw.lstrip("-").isdigit():
        raise InvalidInput(ask_texts.NEED_NUMBER)
    return int(raw)


def _said(replies: list[Message]) -> str:
    """What the chat would have answered the person, as one line for the page."""
    parts = []
    for reply in replies:
        parts.append(reply.text if isinstance(reply, Text) else reply.title)
    return " ".join(parts)


def evidence(evidence_id: int) -> Any:
    """An evidence photo shown on an ask card (HR and admins only, as every console page)."""
    with db() as session:
        row = session.get(Evidence, evidence_id)
        if row is None:
            abort(404)
        path, mime = photo_path(state().config.media_dir, row), row.mime_type
    if not path.is_file():
        abort(404)
    return send_file(path.resolve(), mimetype=mime, max_age=3600)


def install(bp: Blueprint) -> None:
    """/console/tasks/ and the answer route."""
    bp.add_url_rule("/tasks/", "tasks", view)
    bp.add_url_rule(f"/tasks/<int(max={ROW_ID_MAX}):ask_id>", "answer", answer, methods=["POST"])
    bp.add_url_rule(f"/evidence/<int(max={ROW_ID_MAX}):evidence_id>", "evidence", evidence)


PAGE = Page("tasks", "我的待办", install=install)
