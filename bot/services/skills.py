"""Skills (能力, design §15): points by rule category over 90 days against the department's
average, and talent tags — a category holding ≥ 40 % of a person's points in which they rank
in the department's top quarter (e.g. 设备能手 → 维修培训候选).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Department, Employee, LedgerEntry, Rule

WINDOW = timedelta(days=90)
TAG_SHARE = 0.4
TOP_FRACTION = 0.25


@dataclass(frozen=True, slots=True)
class Profile:
    """One person's 90 days by category, next to their department's average."""

    employee_id: int
    categories: list[str]
    own: dict[str, int]
    average: dict[str, float]
    tags: list[str]  # categories that earn a talent tag

    @property
    def total(self) -> int:
        """Own points over all categories."""
        return sum(self.own.values())


def categories(session: Session) -> list[str]:
    """The rule catalogue's categories, in a stable order (by first rule code)."""
    rows = session.execute(
        select(Rule.category, func.min(Rule.code))
        .group_by(Rule.category)
        .order_by(func.min(Rule.code))
    )
    return [category for category, _ in rows]


def _department_points(
    session: Session, department_id: int, since: datetime
) -> dict[int, dict[str, int]]:
    """employee id → category → points earned in the department since `since`."""
    rows = session.execute(
        select(LedgerEntry.employee_id, LedgerEntry.category, func.sum(LedgerEntry.points))
        .where(
            LedgerEntry.department_id == department_id,
            LedgerEntry.created_at >= since,
            LedgerEntry.category.is_not(None),
        )
        .group_by(LedgerEntry.employee_id, LedgerEntry.category)
    )
    points: dict[int, dict[str, int]] = defaultdict(dict)
    for employee_id, category, total in rows:
        points[employee_id][category] = int(total or 0)
    return points


def _own_points(session: Session, employee_id: int, since: datetime) -> dict[str, int]:
    rows = session.execute(
        select(LedgerEntry.category, func.sum(LedgerEntry.points))
        .where(
            LedgerEntry.employee_id == employee_id,
            LedgerEntry.created_at >= since,
            LedgerEntry.category.is_not(None),
        )
        .group_by(LedgerEntry.category)
    )
    return {category: int(total or 0) for category, total in rows}


def _members(session: Session, department_id: int) -> list[int]:
    return list(
        session.scalars(
            select(Employee.id).where(
                Employee.department_id == department_id, Employee.active.is_(True)
            )
        )
    )


def _tags(own: dict[str, int], dept: dict[int, dict[str, int]], members: list[int]) -> list[str]:
    """Categories with ≥ 40 % of own points where the person is in the top quarter."""
    total = sum(v for v in own.values() if v > 0)
    if total <= 0:
        return []
    size = max(len(members), 1)
    top = max(1, math.ceil(size * TOP_FRACTION))
    tags = []
    for category, points in own.items():
        if points <= 0 or points < TAG_SHARE * total:
            continue
        better = sum(1 for m in members if dept.get(m, {}).get(category, 0) > points)
        if better < top:
            tags.append(category)
    return sorted(tags, key=lambda c: (-own[c], c))


def profile(session: Session, employee: Employee, now: datetime) -> Profile:
    """The person's skills profile for the 90 days up to `now`."""
    since = now - WINDOW
    own = _own_points(session, employee.id, since)
    cats = categories(session)
    cats += sorted(c for c in own if c not in cats)
    average: dict[str, float] = dict.fromkeys(cats, 0.0)
    tags: list[str] = []
    if employee.department_id is not None:
        dept = _department_points(session, employee.department_id, since)
        members = _members(session, employee.department_id)
        if employee.id not in members:
            members.append(employee.id)
        for category in cats:
            average[category] = sum(p.get(category, 0) for p in dept.values()) / len(members)
        tags = _tags(own, dept, members)
    return Profile(employee.id, cats, {c: own.get(c, 0) for c in cats}, average, tags)


def department_tags(
    session: Session, department: Department, now: datetime
) -> dict[int, list[str]]:
    """employee id → talent-tag categories, for every active member of a department (HR)."""
    since = now - WINDOW
    dept = _department_points(session, department.id, since)
    members = _members(session, department.id)
    out = {}
    for member in members:
        own = _own_points(session, member, since)
        tags = _tags(own, dept, members)
        if tags:
            out[member] = tags
    return out
