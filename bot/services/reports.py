"""The data behind HR's reports (报表): points by employee, department and month, and the points
liability that redemptions draw on. Rows only; the console names the columns and writes xlsx."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from bot.models import (
    Department,
    Employee,
    LedgerEntry,
    Redemption,
    RedemptionState,
    Reward,
)
from bot.timeutil import month_start


@dataclass(frozen=True, slots=True)
class EmployeePoints:
    """One person's points in a period, and their balance now."""

    employee_no: str
    name: str
    department: str
    role: str
    earned: int
    spent: int
    balance: int


def points_by_employee(session: Session, start: datetime, end: datetime) -> list[EmployeePoints]:
    """Every employee (active or with entries): earned (positive) and spent or reversed
    (negative) points in [start, end), and the all-time balance, by department then number."""
    in_period = (LedgerEntry.created_at >= start) & (LedgerEntry.created_at < end)
    totals = (
        select(
            LedgerEntry.employee_id,
            func.sum(case((in_period & (LedgerEntry.points > 0), LedgerEntry.points), else_=0)).label("earned"),
            func.sum(case((in_period & (LedgerEntry.points < 0), LedgerEntry.points), else_=0)).label("spent"),
            func.sum(LedgerEntry.points).label("balance"),
        )
        .group_by(LedgerEntry.employee_id)
        .subquery()
    )  # fmt: skip
    query = (
        select(Employee, Department.path, totals.c.earned, totals.c.spent, totals.c.balance)
        .outerjoin(totals, totals.c.employee_id == Employee.id)
        .outerjoin(Department, Department.id == Employee.department_id)
        .where(Employee.active.is_(True) | totals.c.employee_id.is_not(None))
    )
    rows = [
        EmployeePoints(e.employee_no, e.name, path or "", e.role, int(earned or 0),
                       int(spent or 0), int(balance or 0))
        for e, path, earned, spent, balance in session.execute(query)
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (r.department, r.employee_no))


@dataclass(frozen=True, slots=True)
class DepartmentPoints:
    """A department's points in one period: earned, how many earned any, of how many."""

    department: str
    members: int
    earners: int
    earned: int


def points_by_department(
    session: Session, start: datetime, end: datetime
) -> list[DepartmentPoints]:
    """Per department (where the points were earned): points earned in [start, end), the
    number of people who earned any, and the active members now."""
    earned = (
        select(
            LedgerEntry.department_id,
            func.sum(LedgerEntry.points).label("earned"),
            func.count(distinct(LedgerEntry.employee_id)).label("earners"),
        )
        .where(
            LedgerEntry.points > 0, LedgerEntry.created_at >= start, LedgerEntry.created_at < end
        )
        .group_by(LedgerEntry.department_id)
    )
    by_dept = {d: (int(e or 0), int(n or 0)) for d, e, n in session.execute(earned)}
    members = dict(
        session.execute(
            select(Employee.department_id, func.count(Employee.id))
            .where(Employee.active.is_(True))
            .group_by(Employee.department_id)
        ).all()
    )
    rows = []
    for dept in session.scalars(select(Department)):
        points, earners = by_dept.get(dept.id, (0, 0))
        rows.append(DepartmentPoints(dept.path, int(members.get(dept.id, 0)), earners, points))
    return sorted(rows, key=lambda r: r.department)


def month_starts(now: datetime, tz: ZoneInfo, months: int) -> list[datetime]:
    """The first instants of the last `months` local months, oldest first, this month last."""
    starts = [month_start(now, tz)]
    for _ in range(months - 1):
        starts.insert(0, month_start(starts[0] - timedelta(days=1), tz))
    return starts


def points_by_month(
    session: Session, now: datetime, tz: ZoneInfo, months: int = 12
) -> list[tuple[str, str, int, int]]:
    """(month `2026-11`, department, points earned, earners) for the last `months` months."""
    starts = month_starts(now, tz, months)
    rows = []
    for start, end in zip(starts, [*starts[1:], now + timedelta(seconds=1)], strict=True):
        label = start.astimezone(tz).strftime("%Y-%m")
        for dept in points_by_department(session, start, end):
            rows.append((label, dept.department, dept.earned, dept.earners))
    return rows


@dataclass(frozen=True, slots=True)
class Liability:
    """What one person could still redeem: balance, held by pending redemptions, available."""

    employee_no: str
    name: str
    department: str
    balance: int
    held: int

    @property
    def available(self) -> int:
        """Balance minus holds, never below zero."""
        return max(self.balance - self.held, 0)


def redemption_liability(session: Session) -> list[Liability]:
    """Everyone with a positive balance or a hold, largest balance first."""
    balances = dict(
        session.execute(
            select(LedgerEntry.employee_id, func.sum(LedgerEntry.points)).group_by(
                LedgerEntry.employee_id
            )
        ).all()
    )
    holds = dict(
        session.execute(
            select(Redemption.employee_id, func.sum(Redemption.cost))
            .where(Redemption.state == RedemptionState.PENDING)
            .group_by(Redemption.employee_id)
        ).all()
    )
    ids = {i for i, b in balances.items() if (b or 0) > 0} | set(holds)
    if not ids:
        return []
    people = session.execute(
        select(Employee, Department.path)
        .outerjoin(Department, Department.id == Employee.department_id)
        .where(Employee.id.in_(ids))
    )
    rows = [
        Liability(e.employee_no, e.name, path or "", int(balances.get(e.id) or 0),
                  int(holds.get(e.id) or 0))
        for e, path in people
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (-r.balance, r.employee_no))


@dataclass(frozen=True, slots=True)
class RedemptionLine:
    """A redemption with the names a report shows."""

    redemption: Redemption
    employee_no: str
    employee_name: str
    reward_code: str
    reward_title: str


def redemptions(
    session: Session, *, state: str | None = None, limit: int = 200
) -> list[RedemptionLine]:
    """Redemptions newest first (optionally in one state)."""
    query = (
        select(Redemption, Employee.employee_no, Employee.name, Reward.code, Reward.title)
        .join(Employee, Employee.id == Redemption.employee_id)
        .join(Reward, Reward.id == Redemption.reward_id)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(Redemption.state == state)
    return [RedemptionLine(*row) for row in session.execute(query)]
