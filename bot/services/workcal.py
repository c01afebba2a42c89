"""Workdays, holidays and quiet hours (工作日历与免打扰时段) for pushes and jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import CalendarDay, Setting

DEFAULT_QUIET = {"start": "21:00", "end": "07:30"}


def get_setting(session: Session, key: str, default: dict[str, Any]) -> dict[str, Any]:
    """A company setting (settings table), or `default` when the row is missing."""
    row = session.get(Setting, key)
    return dict(row.value) if row is not None else dict(default)


def set_setting(session: Session, key: str, value: dict[str, Any]) -> None:
    """Create or replace a company setting."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def _hm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """A loaded view of the calendar: overrides by date, quiet hours, time zone."""

    tz: ZoneInfo
    overrides: dict[date, bool]
    quiet_start: time | None
    quiet_end: time | None

    def is_workday(self, day: date) -> bool:
        """True on workdays: Mon–Fri unless a calendar row says otherwise."""
        if day in self.overrides:
            return self.overrides[day]
        return day.weekday() < 5

    def first_workday_of_month(self, year: int, month: int) -> date:
        """The first workday of a month."""
        day = date(year, month, 1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def in_quiet_hours(self, when: datetime) -> bool:
        """True when `when` falls inside the quiet window (which may span midnight)."""
        if self.quiet_start is None or self.quiet_end is None:
            return False
        t = when.astimezone(self.tz).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= t < self.quiet_end
        return t >= self.quiet_start or t < self.quiet_end

    def is_working_time(self, when: datetime) -> bool:
        """True on a workday outside quiet hours."""
        return self.is_workday(when.astimezone(self.tz).date()) and not self.in_quiet_hours(when)

    def add_working_minutes(self, when: datetime, minutes: int) -> datetime:
        """The instant `minutes` of working time (workdays, outside quiet hours) after `when`,
        to the minute; gives up after 60 days without working time."""
        step, left, at = timedelta(minutes=1), minutes, when
        for _ in range(60 * 24 * 60):
            if left <= 0:
                return at
            if self.is_working_time(at):
                left -= 1
            at += step
        return at

    def add_workdays(self, when: datetime, days: int) -> datetime:
        """The instant `days` workdays after `when`: counted from the first working instant at
        or after `when` (push_time), the same local time on the `days`-th next workday, moved to
        the next working start when that falls in quiet hours. Thursday 10:00 + 3 → Tuesday
        10:00; Saturday 10:00 + 3 → Thursday 07:30 (three whole workdays: Mon, Tue, Wed)."""
        start = self.push_time(when).astimezone(self.tz)
        day, left = start.date(), days
        while left > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return self.push_time(datetime.combine(day, start.time(), self.tz).astimezone(UTC))

    def push_time(self, when: datetime) -> datetime:
        """`when` if a non-urgent push may go out then, else the next workday's end of quiet
        hours (07:30 by default; 08:00 when quiet hours are off)."""
        local = when.astimezone(self.tz)
        if self.is_workday(local.date()) and not self.in_quiet_hours(when):
            return when
        opens = self.quiet_end or time(8, 0)
        day = local.date()
        if datetime.combine(day, opens, self.tz) < local:
            day += timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return datetime.combine(day, opens, self.tz).astimezone(UTC)


def load_calendar(
    session: Session, tz: ZoneInfo, around: date | None = None, days: int = 400
) -> WorkCalendar:
    """Read the quiet-hours setting and the calendar overrides near `around` (±`days`)."""
    query = select(CalendarDay.day, CalendarDay.is_workday)
    if around is not None:
        query = query.where(
            CalendarDay.day >= around - timedelta(days=days),
            CalendarDay.day <= around + timedelta(days=days),
        )
    overrides = {d: w for d, w in session.execute(query)}
    quiet = get_setting(session, "quiet_hours", DEFAULT_QUIET)
    start, end = quiet.get("start"), quiet.get("end")
    return WorkCalendar(
        tz=tz,
        overrides=overrides,
        quiet_start=_hm(start) if start else None,
        quiet_end=_hm(end) if end else None,
    )


def set_workday(session: Session, day: date, is_workday: bool, note: str | None = None) -> None:
    """Mark a date as a holiday (False) or a make-up workday (True, e.g. 调休上班 on a Saturday)."""
    row = session.get(CalendarDay, day)
    if row is None:
        session.add(CalendarDay(day=day, is_workday=is_workday, note=note))
    else:
        row.is_workday, row.note = is_workday, note
    session.flush()
