"""Employees and their platform identities."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Employee, Identity
from bot.platforms import PLATFORMS


def find_sender(session: Session, platform: str, external_id: str) -> Employee | None:
    """The active employee behind a platform user id (`local` uses the employee number)."""
    if platform == "local":
        employee = session.scalar(select(Employee).where(Employee.employee_no == external_id))
    else:
        employee = session.scalar(
            select(Employee)
            .join(Identity, Identity.employee_id == Employee.id)
            .where(Identity.platform == platform, Identity.external_id == external_id)
        )
    if employee is None or not employee.active:
        return None
    return employee


def approvers_of(employee: Employee) -> list[Employee]:
    """Who may decide this employee's claims: the supervisor and the supervisor's delegate."""
    people = []
    if employee.supervisor is not None:
        people.append(employee.supervisor)
        if employee.supervisor.delegate is not None:
            people.append(employee.supervisor.delegate)
    return [p for p in people if p.active and p.id != employee.id]


def can_approve(approver: Employee, claimant: Employee) -> bool:
    """True if `approver` may decide a claim by `claimant` (never their own)."""
    return approver.id != claimant.id and any(p.id == approver.id for p in approvers_of(claimant))


@dataclass(frozen=True, slots=True)
class Reach:
    """What delivery needs to reach one employee: their number, platform choices and ids."""

    employee_id: int
    employee_no: str
    preferred_platform: str | None
    last_platform: str | None
    ids: dict[str, str]


def reach_of(session: Session, employee_ids: Iterable[int]) -> dict[int, Reach]:
    """Reach for each of `employee_ids` that exists: two plain column queries, no ORM objects
    (an outbox batch resolves a few hundred recipients at a time)."""
    wanted = set(employee_ids)
    if not wanted:
        return {}
    ids: dict[int, dict[str, str]] = {}
    for employee_id, platform, external_id in session.execute(
        select(Identity.employee_id, Identity.platform, Identity.external_id).where(
            Identity.employee_id.in_(wanted)
        )
    ):
        ids.setdefault(employee_id, {})[platform] = external_id
    rows = session.execute(
        select(
            Employee.id, Employee.employee_no, Employee.preferred_platform, Employee.last_platform
        ).where(Employee.id.in_(wanted))
    )
    return {
        row.id: Reach(
            row.id, row.employee_no, row.preferred_platform, row.last_platform, ids.get(row.id, {})
        )
        for row in rows
    }


def delivery_platform(reach: Reach, enabled: set[str]) -> tuple[str, str] | None:
    """(platform, external id) to reach an employee: preferred, else last used, else first id.

    `local` reaches anyone by employee number when enabled and no messenger identity applies.
    """
    ids = reach.ids
    for platform in (reach.preferred_platform, reach.last_platform):
        if platform == "local" and "local" in enabled:
            return "local", reach.employee_no
        if platform and platform in enabled and platform in ids:
            return platform, ids[platform]
    for platform in PLATFORMS:
        if platform in enabled and platform in ids:
            return platform, ids[platform]
    if "local" in enabled:
        return "local", reach.employee_no
    return None
