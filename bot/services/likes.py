"""Likes (点赞): a colleague's thanks, no points; supervisors owe their team two a week."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Employee, Like

TEAM_MINIMUM = 2  # team members a supervisor likes each week (product.md)


def iso_week(when: datetime, tz: ZoneInfo) -> str:
    """`2026-W48`: the ISO week of `when` in the factory's time zone."""
    year, week, _ = when.astimezone(tz).date().isocalendar()
    return f"{year}-W{week:02d}"


def find_people(session: Session, who: str) -> list[Employee]:
    """Active employees matching an employee number exactly, else a name exactly."""
    by_no = session.scalar(
        select(Employee).where(Employee.employee_no == who, Employee.active.is_(True))
    )
    if by_no is not None:
        return [by_no]
    return list(
        session.scalars(
            select(Employee)
            .where(Employee.name == who, Employee.active.is_(True))
            .order_by(Employee.id)
        )
    )


def liked_today(
    session: Session, giver: Employee, receiver: Employee, now: datetime, tz: ZoneInfo
) -> bool:
    """True when `giver` already liked `receiver` on `now`'s local day."""
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    found = session.scalar(
        select(Like.id).where(
            Like.giver_id == giver.id,
            Like.receiver_id == receiver.id,
            Like.created_at >= start,
            Like.created_at < start + timedelta(days=1),
        )
    )
    return found is not None


def give_like(
    session: Session,
    giver: Employee,
    receiver: Employee,
    reason: str | None,
    *,
    now: datetime,
    tz: ZoneInfo,
) -> Like:
    """Record a like (the caller has checked it is not to oneself nor a repeat today)."""
    like = Like(
        giver_id=giver.id, receiver_id=receiver.id, reason=(reason or None) and reason[:200],
        week=iso_week(now, tz), created_at=now,
    )  # fmt: skip
    session.add(like)
    session.flush()
    return like


def team_likes(session: Session, supervisor: Employee, week: str) -> int:
    """How many of the supervisor's direct reports they liked in `week` (each counted once)."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Like.receiver_id)))
            .join(Employee, Employee.id == Like.receiver_id)
            .where(
                Like.giver_id == supervisor.id,
                Like.week == week,
                Employee.supervisor_id == supervisor.id,
            )
        )
        or 0
    )


def supervisors_with_teams(session: Session) -> list[Employee]:
    """Active employees with at least one active direct report."""
    report = Employee.__table__.alias("report")
    leads = (
        select(report.c.supervisor_id)
        .where(report.c.active.is_(True), report.c.supervisor_id.is_not(None))
        .distinct()
    )
    return list(
        session.scalars(
            select(Employee)
            .where(Employee.id.in_(leads), Employee.active.is_(True))
            .order_by(Employee.id)
        )
    )


def likes_received(session: Session, person: Employee, since: datetime) -> list[Like]:
    """Likes `person` received since `since`, newest first."""
    return list(
        session.scalars(
            select(Like)
            .where(Like.receiver_id == person.id, Like.created_at >= since)
            .order_by(Like.created_at.desc())
        )
    )
