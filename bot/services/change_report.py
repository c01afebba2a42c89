"""How changes are doing (design §13): a change's live summary for its author and HR, the hours
from a change to its first reported retest, and the median of those hours per week.

A change counts in the week (Monday to Sunday, factory time) it was created; its first-retest
hours are from its creation to the first retest reported, by chat or by PLM. The seeds'
baseline is 72 h.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    AckDecision,
    Change,
    ChangeAck,
    ChangeNotice,
    ChangeRetest,
    Employee,
    RetestState,
)
from bot.notices.change_cards import Progress, summary_card
from bot.outbox import enqueue, publish_card
from bot.timeutil import week_start
from cards import Card

BASELINE_HOURS = 72
NOTICE_STATES = ("confirmed", "need_info", "misunderstanding")


def first_retest_hours(change: Change) -> float | None:
    """Hours from the change's creation to its first reported retest; None before one."""
    if change.first_retest_at is None:
        return None
    return round((change.first_retest_at - change.created_at).total_seconds() / 3600, 2)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def week_median(session: Session, change: Change, tz: ZoneInfo) -> tuple[float | None, int]:
    """The median first-retest hours of the changes created in `change`'s week, and how many
    of them have a reported retest."""
    start = week_start(change.created_at, tz)
    hours = [
        h
        for c in session.scalars(
            select(Change).where(
                Change.created_at >= start,
                Change.created_at < start + timedelta(days=7),
                Change.first_retest_at.is_not(None),
            )
        )
        if (h := first_retest_hours(c)) is not None
    ]
    return _median(hours), len(hours)


def progress_of(session: Session, change: Change, tz: ZoneInfo) -> Progress:
    """Everything the summary card shows, read from the change's tables."""
    acks = session.execute(
        select(ChangeAck, Employee.name)
        .join(Employee, Employee.id == ChangeAck.owner_id)
        .where(ChangeAck.change_id == change.id)
        .order_by(ChangeAck.id)
    ).all()
    by_decision: dict[str, list[tuple[ChangeAck, str]]] = {d: [] for d in AckDecision}
    for ack, name in acks:
        by_decision[ack.decision].append((ack, name))
    retests = session.execute(
        select(ChangeRetest.state, ChangeRetest.result, func.count(ChangeRetest.id))
        .where(ChangeRetest.change_id == change.id)
        .group_by(ChangeRetest.state, ChangeRetest.result)
    ).all()
    reported = {result: n for state, result, n in retests if state == RetestState.REPORTED}
    notices: dict[str, int] = {}
    for response, n in session.execute(
        select(ChangeNotice.response, func.count(ChangeNotice.id))
        .where(ChangeNotice.change_id == change.id)
        .group_by(ChangeNotice.response)
    ):
        key = response if response in NOTICE_STATES else "waiting"
        notices[key] = notices.get(key, 0) + n
    median, counted = week_median(session, change, tz)
    return Progress(
        total=len(acks),
        accepted=len(by_decision[AckDecision.ACCEPTED]),
        rejected=len(by_decision[AckDecision.REJECTED]),
        negotiating=len(by_decision[AckDecision.NEGOTIATING]),
        pending=tuple(name for _, name in by_decision[AckDecision.PENDING]),
        negotiations=tuple(
            (name, a.negotiation_reason, a.author_reply)
            for a, name in by_decision[AckDecision.NEGOTIATING]
        ),
        rejections=tuple((name, a.reason) for a, name in by_decision[AckDecision.REJECTED]),
        retests_reported=sum(reported.values()),
        retests_passed=reported.get("pass", 0),
        retests_failed=reported.get("fail", 0),
        notices=notices,
        first_retest_hours=first_retest_hours(change),
        week_median_hours=median,
        week_changes=counted,
        baseline_hours=BASELINE_HOURS,
    )


def publish_summary(
    session: Session, change: Change, *, now: datetime, tz: ZoneInfo, to: Employee | None = None
) -> Card:
    """Bring the change's summary card up to date on every copy; with `to`, also send them a
    copy. Returns the card."""
    card = summary_card(change, progress_of(session, change, tz))
    publish_card(session, card, now=now)
    if to is not None:
        enqueue(session, card, now=now, recipient=to)
    return card


# -- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeMetric:
    """One change in the report."""

    change: Change
    hours: float | None


@dataclass(frozen=True, slots=True)
class WeekMetric:
    """One week (Monday start) of the report."""

    start: date
    changes: int
    reported: int
    median_hours: float | None

    @property
    def label(self) -> str:
        """ISO week, e.g. 2026-W48."""
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class ChangeReport:
    """First-retest hours per change created from `start` to `end` (days, inclusive) and the
    median per week and overall."""

    start: date
    end: date
    changes: list[ChangeMetric]
    weeks: list[WeekMetric]
    median_hours: float | None
    baseline_hours: int = BASELINE_HOURS


def _utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def change_report(session: Session, start: date, end: date, tz: ZoneInfo) -> ChangeReport:
    """The first-retest metric for changes created on days `start` to `end` (factory time)."""
    changes = list(
        session.scalars(
            select(Change)
            .where(
                Change.created_at >= _utc(start, tz),
                Change.created_at < _utc(end + timedelta(days=1), tz),
            )
            .order_by(Change.created_at, Change.id)
        )
    )
    metrics = [ChangeMetric(c, first_retest_hours(c)) for c in changes]
    weeks: list[WeekMetric] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        begin, stop = _utc(monday, tz), _utc(monday + timedelta(days=7), tz)
        inside = [m for m in metrics if begin <= m.change.created_at < stop]
        hours = [m.hours for m in inside if m.hours is not None]
        weeks.append(WeekMetric(monday, len(inside), len(hours), _median(hours)))
        monday += timedelta(days=7)
    every = [m.hours for m in metrics if m.hours is not None]
    return ChangeReport(start, end, metrics, weeks, _median(every))
