"""Employees and their platform identities."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Employee, Identity

PLATFORM_ORDER = ("wecom", "dingtalk", "feishu")


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


def delivery_platform(employee: Employee, enabled: set[str]) -> tuple[str, str] | None:
    """(platform, external id) to reach an employee: preferred, else last used, else first id.

    `local` reaches anyone by employee number when enabled and no messenger identity applies.
    """
    ids = {i.platform: i.external_id for i in employee.identities}
    for platform in (employee.preferred_platform, employee.last_platform):
        if platform == "local" and "local" in enabled:
            return "local", employee.employee_no
        if platform and platform in enabled and platform in ids:
            return platform, ids[platform]
    for platform in PLATFORM_ORDER:
        if platform in enabled and platform in ids:
            return platform, ids[platform]
    if "local" in enabled:
        return "local", employee.employee_no
    return None
