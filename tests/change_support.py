"""What the change tests share: a PLM body, posting it, module owners, and a small factory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Change, Employee, ModuleOwner, Role
from tests.factories import make_employee, make_team

TOKEN = "api-token-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
IMPACT_TITLE = "变更通知 · B 3号模具冲头尺寸变更"
RETEST_TITLE = "重测任务 · B 3号模具冲头尺寸变更"
NEGOTIATION_TITLE = "变更协商"
SUMMARY_TITLE = "变更进度 · B 3号模具冲头尺寸变更"


def change_body(author: Employee, *impacts: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """A change as PLM posts it (design §13), effective a week after the test clock's day."""
    return {
        "source": "plm",
        "external_id": "ECO-2026-118",
        "version": "B",
        "title": "3号模具冲头尺寸变更",
        "description": "冲头直径 12.00 → 12.05 mm，首件需重测。",
        "effective_date": "2026-12-03",
        "author": author.employee_no,
        "notify": [],
        "retest_due_hours": 24,
        "impacts": list(impacts),
        **kw,
    }


def impact(owner: Employee | None = None, module: str | None = None, **kw: Any) -> dict[str, Any]:
    """One impact row naming an owner or a module."""
    row: dict[str, Any] = {"object": "3号模具", "action": "重测首件尺寸", "hours": 2,
                           "compensation_points": 5, **kw}  # fmt: skip
    if owner is not None:
        row["owner"] = owner.employee_no
    if module is not None:
        row["module"] = module
    return row


def post_change(client: Any, body: dict[str, Any]) -> Any:
    """POST /api/v1/changes with the token."""
    return client.post("/api/v1/changes", json=body, headers=HEADERS)


def post_retest(client: Any, change_id: int, body: dict[str, Any]) -> Any:
    """POST /api/v1/changes/{id}/retests with the token."""
    return client.post(f"/api/v1/changes/{change_id}/retests", json=body, headers=HEADERS)


def add_module(session: Session, module: str, *owners: Employee) -> None:
    """Make `owners` the owners of `module` (as import-modules would)."""
    for owner in owners:
        session.add(ModuleOwner(module=module, employee_id=owner.id,
                                created_at=datetime.fromisoformat("2026-11-01T00:00:00+08:00")))  # fmt: skip
    session.commit()


def make_plant(session: Session) -> dict[str, Employee]:
    """An engineer (the author), a supervisor with two workers, and HR."""
    boss, (zhang, liu) = make_team(session)
    engineer = make_employee(session, name="赵工", role=Role.WORKER)
    hr = make_employee(session, name="周敏", role=Role.HR)
    return {"boss": boss, "zhang": zhang, "liu": liu, "engineer": engineer, "hr": hr}


def the_change(session: Session) -> Change:
    """The one change the test created."""
    session.commit()
    session.expire_all()
    return session.scalars(select(Change)).one()
