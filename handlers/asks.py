"""Answers to asks (design §12): the buttons of every ask card, the reason/photo/number that
follows a choice, 知道了 on escalations, and 任务, the sender's open asks."""

from __future__ import annotations

from dataclasses import replace

from bot import asks
from bot.context import HandlerContext
from bot.errors import NotFound
from bot.notices import asks as texts
from bot.services.evidence import store_photo
from bot.signing import Action
from bot.timeutil import local_dt
from cards import Card, Message, Text

SHOWN = 3  # open asks shown as cards under the 任务 summary
# Buttons signed before approvals and task alerts became asks (revision 0006) stay valid for
# their lifetime: action → (subject type, choice).
LEGACY = {
    "approve": ("claim", "approve"),
    "reject": ("claim", "reject"),
    "reject_reason": ("claim", "reject"),
    "reject_cancel": ("claim", "reject"),
    "task_ack": ("task", "ack"),
    "task_done": ("task", "done"),
}


def handle_ask(ctx: HandlerContext, action: Action) -> list[Message]:
    """A choice on an ask card."""
    return asks.press(
        ctx.session, action.object_id, ctx.sender, action.arg, now=ctx.now, tz=ctx.tz,
        signer=ctx.signer, platform=ctx.event.platform,
    )  # fmt: skip


def handle_shared(ctx: HandlerContext, action: Action) -> list[Message]:
    """A choice on a card many people share: the presser's own ask answers."""
    return asks.press_shared(
        ctx.session, action.object_id, ctx.sender, action.arg, now=ctx.now, tz=ctx.tz,
        signer=ctx.signer, platform=ctx.event.platform,
    )  # fmt: skip


def handle_reason(ctx: HandlerContext, action: Action) -> list[Message]:
    """A common reason on an input card."""
    return asks.press_reason(
        ctx.session, action.object_id, ctx.sender, action.arg, now=ctx.now, tz=ctx.tz,
        signer=ctx.signer, platform=ctx.event.platform,
    )  # fmt: skip


def handle_cancel(ctx: HandlerContext, action: Action) -> list[Message]:
    """取消 on an input card."""
    return asks.cancel_input(ctx.session, action.object_id, ctx.sender, action.arg, now=ctx.now)


def handle_ack(ctx: HandlerContext, action: Action) -> list[Message]:
    """知道了 on an escalation copy."""
    return asks.acknowledge(
        ctx.session, action.object_id, ctx.sender, now=ctx.now, tz=ctx.tz, signer=ctx.signer
    )


def take_text(ctx: HandlerContext) -> list[Message] | None:
    """Text that answers an ask waiting for the sender's input, or None."""
    return asks.take_text(
        ctx.session, ctx.sender, ctx.event.text, now=ctx.now, tz=ctx.tz, signer=ctx.signer,
        platform=ctx.event.platform,
    )  # fmt: skip


def take_photo(ctx: HandlerContext) -> list[Message] | None:
    """A photo that answers an ask waiting for one from the sender, or None."""
    if not asks.wants_photo(ctx.session, ctx.sender, ctx.now):
        return None
    data = ctx.fetch_media(ctx.event.media_ref or "")
    evidence = store_photo(
        ctx.session, ctx.media_dir, ctx.sender, data, source=ctx.event.platform, now=ctx.now
    )
    return asks.take_photo(
        ctx.session, ctx.sender, evidence.id, now=ctx.now, tz=ctx.tz, signer=ctx.signer,
        platform=ctx.event.platform,
    )  # fmt: skip


def handle_tasks(ctx: HandlerContext, args: str) -> list[Message]:
    """任务 / tasks: the sender's open asks with due times, oldest first, the first few as
    cards to answer right here."""
    waiting = asks.open_asks_of(ctx.session, ctx.sender.id)
    if not waiting:
        return [Text(texts.NO_ASKS)]
    lines = [
        texts.ASK_LINE.format(
            title=a.title,
            due=texts.ASK_DUE.format(due=local_dt(a.due_at, ctx.tz)) if a.due_at else "",
        )
        for a in waiting[:10]
    ]
    note = texts.ASKS_MORE.format(count=len(waiting) - SHOWN) if len(waiting) > SHOWN else None
    summary = Card(title=texts.ASKS_TITLE.format(total=len(waiting)), lines=tuple(lines), note=note)
    cards = [
        asks.show(ctx.session, a, ctx.sender, now=ctx.now, signer=ctx.signer)
        for a in waiting[:SHOWN]
    ]
    return [summary, *cards]


def handle_legacy(ctx: HandlerContext, action: Action) -> list[Message]:
    """A button from a card sent before revision 0006: the same press on the subject's ask."""
    kind, choice = LEGACY[action.name]
    ask = asks.find_live(ctx.session, f"{kind}:{action.object_id}")
    if ask is None:
        raise NotFound(texts.UNKNOWN_ASK)
    if action.name == "reject_cancel":
        return asks.cancel_input(ctx.session, ask.id, ctx.sender, choice, now=ctx.now)
    if action.name == "reject_reason":
        modern = replace(action, name="ask_reason", object_id=ask.id, arg=f"{choice}:{action.arg}")
        return handle_reason(ctx, modern)
    return handle_ask(ctx, replace(action, name="ask", object_id=ask.id, arg=choice))
