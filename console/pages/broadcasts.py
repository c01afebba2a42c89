"""通知: HR's notices (design §14) — each with its read rate and who has not read it yet, and a
form to send an important notice (each person confirms 已读) to everyone or one department.

Sending is `send_broadcast`, the same call as `通知 重要 …` in chat and POST /api/v1/broadcasts;
read rates are `read_status`, what `通知 状态` shows. The `read_confirm` policy reminds whoever
has not read a notice once, two working hours after it went out: the service has no second
reminder on demand, so neither has this page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Broadcast, Department, Employee
from bot.notices import broadcasts as notices
from bot.services.audit import record
from bot.services.broadcasts import UnknownRecipients, read_status, send_broadcast
from bot.services.workcal import load_calendar
from console.pages.base import Page
from console.web import db, flash, local, me, now, page, state

EVERYONE = "全员"
SOURCES = {"api": "接口", "chat": "聊天", "console": "控制台"}
LIMIT = 50
UNREAD_SHOWN = 200
NEED_TEXT = "请填写通知内容。"
UNKNOWN_DEPARTMENT = "没有找到部门：{names}"
SENT = "已发出重要通知 #{id}：{total} 人需确认已读。"


def _audience(audience: dict[str, Any] | None) -> str:
    to = (audience or {}).get("to")
    if to == "all":
        return EVERYONE
    if isinstance(to, dict) and to.get("departments"):
        return "、".join(to["departments"])
    if isinstance(to, dict) and to.get("employees"):
        return f"{len(to['employees'])} 位同事"
    return "-"


def _sender(session: Session, broadcast: Broadcast) -> str:
    person = session.get(Employee, broadcast.sender_id) if broadcast.sender_id else None
    return person.name if person else SOURCES.get(broadcast.source, broadcast.source)


def view() -> str:
    """The newest notices with read rates and unread names, and the send form."""
    with db() as session:
        rows = list(session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(LIMIT)))
        items = []
        for b in rows:
            item = {
                "id": b.id, "title": b.title, "text": b.text, "important": b.important,
                "to": _audience(b.audience), "total": b.total, "sent": local(b.created_at),
                "sender": _sender(session, b),
            }  # fmt: skip
            if b.important:
                status = read_status(session, b)
                item |= {
                    "read": status.read,
                    "unread": [f"{name}（{no}）" for no, name in status.unread[:UNREAD_SHOWN]],
                    "unread_count": len(status.unread),
                    "rate": round(100 * status.read / status.total) if status.total else 0,
                }
            items.append(item)
        departments = sorted(d.path for d in session.scalars(select(Department)))
    return page("console/broadcasts.html", items=items, departments=departments,
                everyone=EVERYONE, shown=UNREAD_SHOWN)  # fmt: skip


def send() -> Any:
    """Send an important notice through the chat's and API's service, and audit it."""
    title = (request.form.get("title") or "").strip()[:200] or notices.CHAT_IMPORTANT_TITLE
    text = (request.form.get("text") or "").strip()[:2000]
    department = (request.form.get("department") or "").strip()
    to: Any = {"departments": [department]} if department else "all"
    with db() as session:
        if not text:
            flash(session, NEED_TEXT, "error")
            return redirect(url_for("console.broadcasts"))
        sender = me(session)
        try:
            with session.begin_nested():
                calendar = load_calendar(session, state().config.tz, now().date())
                broadcast = send_broadcast(
                    session, title=title, text=text, important=True, to=to, now=now(),
                    signer=state().signer, calendar=calendar, sender=sender, source="console",
                )  # fmt: skip
        except UnknownRecipients as exc:
            flash(session, UNKNOWN_DEPARTMENT.format(names="、".join(exc.values)), "error")
            return redirect(url_for("console.broadcasts"))
        record(session, sender, "broadcast.send", "broadcast", broadcast.id,
               {"title": title, "to": to, "total": broadcast.total, "important": True},
               now=now())  # fmt: skip
        if broadcast.total:
            flash(session, SENT.format(id=broadcast.id, total=broadcast.total))
        else:
            flash(session, notices.NO_AUDIENCE, "error")
    state().notify_worker()
    return redirect(url_for("console.broadcasts"))


def install(bp: Blueprint) -> None:
    """/console/broadcasts/ and the send form."""
    bp.add_url_rule("/broadcasts/", "broadcasts", view)
    bp.add_url_rule("/broadcasts/send", "broadcast_send", send, methods=["POST"])


PAGE = Page("broadcasts", "通知", install=install)
