"""通知: HR's notices to everyone; 通知 重要 asks each person for 已读 (design §14)."""

from __future__ import annotations

from bot import asks
from bot.context import HandlerContext
from bot.errors import NotAllowed, NotFound
from bot.models import Broadcast, Role
from bot.notices import broadcasts as notices
from bot.services.broadcasts import latest_important, read_status, send_broadcast
from bot.services.workcal import load_calendar
from cards import Message, Text

IMPORTANT_WORDS = ("重要", "important")
STATUS_WORDS = ("状态", "status")


def _on_read(answer: asks.Answer) -> list[Message]:
    """已读: the card itself says so; nothing more to tell the reader."""
    return []


READ_CONFIRM = asks.register(
    asks.AskKind(
        notices.READ_KIND,
        _on_read,
        already_answered=notices.ALREADY_READ,
        not_yours=notices.NOT_ASKED,
    )
)


def handle_notice(ctx: HandlerContext, args: str) -> list[Message]:
    """通知 <内容> / 通知 重要 <内容> / 通知 状态 [编号] (HR and admins)."""
    if ctx.sender.role not in (Role.HR, Role.ADMIN):
        raise NotAllowed(notices.ONLY_HR)
    word, _, rest = args.partition(" ")
    if word.lower() in STATUS_WORDS:
        return [_status(ctx, rest.strip())]
    important = word.lower() in IMPORTANT_WORDS
    text = (rest if important else args).strip()
    if not text:
        return [Text(notices.USAGE)]
    title = notices.CHAT_IMPORTANT_TITLE if important else notices.CHAT_PLAIN_TITLE
    broadcast = send_broadcast(
        ctx.session, title=title, text=text, important=important, to="all", now=ctx.now,
        signer=ctx.signer, calendar=load_calendar(ctx.session, ctx.tz, ctx.now.date()),
        sender=ctx.sender, source="chat",
    )  # fmt: skip
    if not broadcast.total:
        return [Text(notices.NO_AUDIENCE)]
    done = notices.IMPORTANT_SENT if important else notices.SENT
    return [Text(done.format(id=broadcast.id, total=broadcast.total))]


def _status(ctx: HandlerContext, arg: str) -> Message:
    if arg:
        broadcast = ctx.session.get(Broadcast, int(arg)) if arg.lstrip("#").isdigit() else None
        if arg.startswith("#") and arg[1:].isdigit():
            broadcast = ctx.session.get(Broadcast, int(arg[1:]))
        if broadcast is None:
            raise NotFound(notices.NOT_FOUND.format(id=arg.lstrip("#")))
    else:
        broadcast = latest_important(ctx.session)
        if broadcast is None:
            return Text(notices.NONE_YET)
    status = read_status(ctx.session, broadcast)
    names = [name for _no, name in status.unread]
    return notices.status_card(broadcast.id, status.total, status.read, names)
