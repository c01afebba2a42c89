"""Per-recipient send pacing, shared by every worker process through the outbox table.

The limits are the platforms' own, in bot/platforms.py (platforms.md §3–§6): WeCom silently
drops messages above its limits and DingTalk blocks a robot for 10 minutes, so rows are held back
rather than lost. Two workers racing may overshoot by one message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Outbox
from bot.platforms import Limit


def pace_key(
    platform: str, user_id: str | None, chat_id: str | None, employee_id: int | None = None
) -> str:
    """The key sends are counted under: one per person or group chat on a platform."""
    if chat_id:
        return f"{platform}:chat:{chat_id}"[:200]
    return f"{platform}:user:{user_id or f'#{employee_id}'}"[:200]


def wait_until(
    session: Session,
    key: str,
    limits: tuple[Limit, ...],
    now: datetime,
    planned: int = 0,
    cost: int = 1,
) -> datetime | None:
    """When a send costing `cost` messages may go to `key`, or None if it may go now.

    `planned` counts messages to the same key already going out in the current batch.
    """
    latest: datetime | None = None
    for limit in limits:
        since = now - timedelta(seconds=limit.seconds)
        in_window = (Outbox.pace_key == key, Outbox.state == "sent", Outbox.sent_at > since)
        used = session.scalar(select(func.coalesce(func.sum(Outbox.cost), 0)).where(*in_window))
        used = int(used or 0)
        if used + planned + cost <= limit.count:
            continue
        if used + cost <= limit.count:
            # Only this batch fills the window: try again once it has gone out.
            free_at = now + timedelta(seconds=limit.seconds)
            latest = free_at if latest is None or free_at > latest else latest
            continue
        # The window frees up when enough of its oldest messages have aged out of it: walking
        # from the newest, the send that takes the total past what may stay must leave.
        allowed, total = limit.count - cost, 0
        newest_first = (
            select(Outbox.sent_at, Outbox.cost)
            .where(*in_window)
            .order_by(Outbox.sent_at.desc())
            .limit(limit.count + 1)
        )
        for sent_at, sent_cost in session.execute(newest_first):
            total += sent_cost
            if total > allowed:
                free_at = sent_at + timedelta(seconds=limit.seconds)
                latest = free_at if latest is None or free_at > latest else latest
                break
    return latest


def window_counts(session: Session, keys: set[str], seconds: int, now: datetime) -> dict[str, int]:
    """Messages sent per key in the last `seconds` (one grouped query for a whole batch)."""
    if not keys:
        return {}
    since = now - timedelta(seconds=seconds)
    rows = session.execute(
        select(Outbox.pace_key, func.sum(Outbox.cost))
        .where(Outbox.pace_key.in_(keys), Outbox.state == "sent", Outbox.sent_at > since)
        .group_by(Outbox.pace_key)
    )
    return {key: int(n) for key, n in rows}
