"""Calendar helpers in the factory's time zone (weeks start on Monday)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Midnight of `now`'s local day, in UTC."""
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(), tz).astimezone(UTC)


def week_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Monday 00:00 of `now`'s local week, in UTC."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(), tz).astimezone(UTC)


def month_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The 1st 00:00 of `now`'s local month, in UTC."""
    local = now.astimezone(tz)
    return datetime.combine(local.date().replace(day=1), time(), tz).astimezone(UTC)


def local_hm(when: datetime, tz: ZoneInfo) -> str:
    """`10:42` today-style time for cards."""
    return when.astimezone(tz).strftime("%H:%M")


def local_dt(when: datetime, tz: ZoneInfo) -> str:
    """`11-26 10:42` for lists."""
    return when.astimezone(tz).strftime("%m-%d %H:%M")
