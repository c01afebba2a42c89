"""复核: HR's list of flagged approvals (design §15: mutual approvals, bursts, points
concentrated on one person, old photos)."""

from __future__ import annotations

from datetime import timedelta

from bot.context import HandlerContext
from bot.errors import NotAllowed
from bot.models import Role
from bot.notices import review as texts
from bot.services.review import count_flags, recent_flags
from bot.timeutil import local_dt
from cards import Card, Message, Text

DAYS = 30
SHOWN = 15


def flag_lines(ctx: HandlerContext, days: int, limit: int) -> tuple[list[str], int]:
    """The newest flags as lines, and how many there are in all."""
    since = ctx.now - timedelta(days=days)
    flags = recent_flags(ctx.session, since, limit=limit)
    lines = [
        texts.FLAG_LINE.format(
            time=local_dt(f.created_at, ctx.tz),
            claim_id=f.claim_id,
            claimant=f.claim.employee.name,
            rule=f.claim.rule.code,
            signal=texts.SIGNAL_NAMES.get(f.signal, f.signal),
            why=texts.reason_text(f, f.claim, ctx.tz),
        )
        for f in flags
    ]
    return lines, count_flags(ctx.session, since)


def handle_flags(ctx: HandlerContext, args: str) -> list[Message]:
    """复核 / review: HR sees the last 30 days' flagged approvals, newest first."""
    if ctx.sender.role not in (Role.HR, Role.ADMIN):
        raise NotAllowed(texts.HR_ONLY)
    lines, total = flag_lines(ctx, DAYS, SHOWN)
    if not lines:
        return [Text(texts.NO_FLAGS.format(days=DAYS))]
    note = texts.FLAGS_MORE.format(count=total - len(lines)) if total > len(lines) else None
    return [
        Card(title=texts.FLAGS_TITLE.format(days=DAYS, total=total), lines=tuple(lines), note=note)
    ]
