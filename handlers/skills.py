"""能力: the sender's ability radar over 90 days against the department average, with talent
tags (design §15)."""

from __future__ import annotations

from bot.context import HandlerContext
from bot.notices import skills as texts
from bot.services.images import media_ref
from bot.services.skills import profile
from cards import Card, Message, Text


def handle_skills(ctx: HandlerContext, args: str) -> list[Message]:
    """能力 / skills."""
    me = ctx.sender
    mine = profile(ctx.session, me, ctx.now)
    if mine.total <= 0:
        return [Text(texts.NO_POINTS)]
    department = me.department.name if me.department else texts.NO_DEPARTMENT
    day = ctx.now.astimezone(ctx.tz).strftime("%Y%m%d")
    path = ctx.media_dir / "skills" / day / f"{me.id}-{ctx.now.strftime('%H%M%S%f')}.png"
    texts.render_radar(
        path,
        title=texts.IMAGE_TITLE.format(name=me.name),
        subtitle=texts.SUBTITLE.format(department=department),
        categories=mine.categories,
        own=[mine.own[c] for c in mine.categories],
        average=[mine.average[c] for c in mine.categories],
    )
    lines = [
        texts.LINE.format(category=c, own=mine.own[c], avg=f"{mine.average[c]:.0f}")
        for c in mine.categories
        if mine.own[c] or mine.average[c]
    ]
    if mine.tags:
        lines += [
            texts.TAGS_HEADER,
            *[texts.TAG_LINE.format(tag=texts.tag_text(c)) for c in mine.tags],
        ]
    else:
        lines.append(texts.NO_TAGS)
    return [
        Card(
            title=texts.TITLE.format(name=me.name),
            lines=tuple(lines),
            image=media_ref(ctx.media_dir, path),
            note=texts.NOTE,
        )
    ]
