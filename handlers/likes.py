"""点赞 <姓名或工号> [理由]: thank a colleague (no points); supervisors see their weekly tally."""

from __future__ import annotations

from bot.context import HandlerContext
from bot.errors import InvalidInput, LimitReached, NotFound
from bot.notices import reviews as notices
from bot.outbox import enqueue
from bot.services.likes import (
    TEAM_MINIMUM,
    find_people,
    give_like,
    iso_week,
    liked_today,
    team_likes,
)
from cards import Message, Text


def handle_like(ctx: HandlerContext, args: str) -> list[Message]:
    """点赞 / like."""
    who, _, reason = args.partition(" ")
    who, reason = who.strip(), reason.strip()
    if not who:
        raise InvalidInput(notices.LIKE_USAGE)
    people = find_people(ctx.session, who)
    if not people:
        raise NotFound(notices.LIKE_UNKNOWN.format(who=who[:20]))
    if len(people) > 1:
        options = "、".join(f"{p.name}（{p.employee_no}）" for p in people[:5])
        raise InvalidInput(
            notices.LIKE_AMBIGUOUS.format(count=len(people), who=who, options=options)
        )
    receiver = people[0]
    if receiver.id == ctx.sender.id:
        raise InvalidInput(notices.LIKE_SELF)
    if liked_today(ctx.session, ctx.sender, receiver, ctx.now, ctx.tz):
        raise LimitReached(notices.LIKE_TWICE_TODAY.format(name=receiver.name))
    give_like(ctx.session, ctx.sender, receiver, reason, now=ctx.now, tz=ctx.tz)
    told = (
        notices.LIKE_RECEIVED.format(giver=ctx.sender.name, reason=reason)
        if reason
        else notices.LIKE_RECEIVED_PLAIN.format(giver=ctx.sender.name)
    )
    enqueue(ctx.session, Text(told), now=ctx.now, recipient=receiver)
    reply = notices.LIKE_SENT.format(name=receiver.name)
    if receiver.supervisor_id == ctx.sender.id:
        count = team_likes(ctx.session, ctx.sender, iso_week(ctx.now, ctx.tz))
        reply += "\n" + notices.LIKE_TEAM_PROGRESS.format(count=count, minimum=TEAM_MINIMUM)
    return [Text(reply)]
