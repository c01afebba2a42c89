"""The numbers HR looks at first (控制台概览): this week's points and participation, a weekly
trend, pending approvals, and open asks by age (design §16)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.models import Ask, AskState, Claim, ClaimState, Employee, LedgerEntry, Role
from bot.timeutil import week_start

LIVE = (AskState.OPEN, AskState.ACKNOWLEDGED)
# Age buckets of open asks, in hours: [0, 4), [4, 24), [24, 72), 72 and more.
AGE_BUCKETS = (4, 24, 72)


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """One week of the trend: its Monday (local), points earned, participation."""

    monday: datetime
    points: int
    participants: int
    staff: int

    @property
    def participation(self) -> float:
        """Share of active frontline staff who earned points that week (0–1)."""
        return self.participants / self.staff if self.staff else 0.0


def frontline_count(session: Session) -> int:
    """Active workers and supervisors: the people the points system is for."""
    return int(
        session.scalar(
            select(func.count(Employee.id)).where(
                Employee.active.is_(True), Employee.role.in_((Role.WORKER, Role.SUPERVISOR))
            )
        )
        or 0
    )


def week_point(session: Session, start: datetime, staff: int) -> WeekPoint:
    """Points earned (positive entries) and distinct earners in the week from `start`."""
    end = start + timedelta(days=7)
    earned = (
        LedgerEntry.points > 0,
        LedgerEntry.created_at >= start,
        LedgerEntry.created_at < end,
    )
    points = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(*earned))
    people = session.scalar(select(func.count(distinct(LedgerEntry.employee_id))).where(*earned))
    return WeekPoint(start, int(points or 0), int(people or 0), staff)


def weekly_trend(session: Session, now: datetime, tz: ZoneInfo, weeks: int = 8) -> list[WeekPoint]:
    """The last `weeks` weeks, oldest first, the current (partial) week last."""
    staff = frontline_count(session)
    this_week = week_start(now, tz)
    return [
        week_point(session, this_week - timedelta(days=7 * back), staff)
        for back in range(weeks - 1, -1, -1)
    ]


@dataclass(frozen=True, slots=True)
class PendingClaims:
    """Claims waiting for a decision: how many, and since when the oldest waits."""

    count: int
    oldest_at: datetime | None


def pending_claims(session: Session) -> PendingClaims:
    """Every pending claim, whoever must decide it."""
    row = session.execute(
        select(func.count(Claim.id), func.min(Claim.created_at)).where(
            Claim.state == ClaimState.PENDING
        )
    ).one()
    return PendingClaims(int(row[0] or 0), row[1])


@dataclass(frozen=True, slots=True)
class AgeRow:
    """Open asks of one kind by age bucket (AGE_BUCKETS), and how many are past due."""

    kind: str
    buckets: tuple[int, ...]
    overdue: int

    @property
    def total(self) -> int:
        """All open asks of the kind."""
        return sum(self.buckets)


def asks_by_age(session: Session, now: datetime) -> list[AgeRow]:
    """Open and acknowledged asks per kind, counted by how long they have waited."""
    edges = [now - timedelta(hours=h) for h in AGE_BUCKETS]
    rows: dict[str, list[int]] = {}
    overdue: dict[str, int] = {}
    query = select(Ask.kind, Ask.created_at, Ask.due_at).where(Ask.state.in_(LIVE))
    for kind, created_at, due_at in session.execute(query):
        buckets = rows.setdefault(kind, [0] * (len(AGE_BUCKETS) + 1))
        buckets[sum(1 for edge in edges if created_at <= edge)] += 1
        if due_at is not None and due_at < now:
            overdue[kind] = overdue.get(kind, 0) + 1
    return [
        AgeRow(kind, tuple(counts), overdue.get(kind, 0))
        for kind, counts in sorted(rows.items(), key=lambda item: -sum(item[1]))
    ]


@dataclass(frozen=True, slots=True)
class WaitingAsk:
    """An open ask as the overview lists it."""

    ask: Ask
    owner_no: str
    owner_name: str


def oldest_asks(session: Session, limit: int = 10) -> list[WaitingAsk]:
    """The longest-waiting open asks, oldest first."""
    query = (
        select(Ask, Employee.employee_no, Employee.name)
        .join(Employee, Employee.id == Ask.owner_id)
        .where(Ask.state.in_(LIVE))
        .order_by(Ask.created_at, Ask.id)
        .limit(limit)
    )
    return [WaitingAsk(ask, no, name) for ask, no, name in session.execute(query)]
