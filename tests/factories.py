"""make_* factories: sensible defaults, keywords override; each commits so the worker sees it."""

from __future__ import annotations

import io
import random
from datetime import datetime
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Claim, ClaimState, Department, Employee, Evidence, Role, Rule

_counter = iter(range(1, 10**9))


def make_department(session: Session, path: str | None = None) -> Department:
    """A department (path may use /)."""
    path = path or f"测试部门{next(_counter)}"
    dept = Department(path=path, name=path.split("/")[-1])
    session.add(dept)
    session.commit()
    return dept


def make_employee(
    session: Session,
    *,
    name: str | None = None,
    employee_no: str | None = None,
    role: str = Role.WORKER,
    supervisor: Employee | None = None,
    department: Department | None = None,
    created_at: datetime | None = None,
    **kw: Any,
) -> Employee:
    """An employee; give `supervisor` to make them someone's report."""
    n = next(_counter)
    employee = Employee(
        employee_no=employee_no or f"T{n:05d}",
        name=name or f"员工{n}",
        role=role,
        supervisor=supervisor,
        department=department or (supervisor.department if supervisor else None),
        created_at=created_at or datetime.fromisoformat("2026-01-01T00:00:00+08:00"),
        **kw,
    )
    session.add(employee)
    session.commit()
    return employee


def make_team(session: Session, workers: int = 2) -> tuple[Employee, list[Employee]]:
    """A supervisor with `workers` reports in a fresh department."""
    dept = make_department(session)
    boss = make_employee(session, name="王主管", role=Role.SUPERVISOR, department=dept)
    team = [make_employee(session, supervisor=boss) for _ in range(workers)]
    return boss, team


def rule(session: Session, code: str) -> Rule:
    """A seeded rule by code."""
    return session.scalars(select(Rule).where(Rule.code == code)).one()


def photo_bytes(seed: int = 1, size: tuple[int, int] = (320, 240), fmt: str = "JPEG") -> bytes:
    """A distinct, realistic-looking test photo for each seed."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rnd.randrange(size[0]), rnd.randrange(size[1])
        x1, y1 = x0 + rnd.randrange(20, 140), y0 + rnd.randrange(20, 140)
        draw.rectangle((x0, y0, x1, y1), fill=tuple(rnd.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def make_claim(
    session: Session,
    *,
    employee: Employee,
    code: str = "A02",
    evidence: Evidence | None = None,
    state: str = ClaimState.PENDING,
    created_at: datetime | None = None,
) -> Claim:
    """A claim row written directly (no card, no notification)."""
    claim = Claim(
        employee=employee,
        rule=rule(session, code),
        evidence=evidence,
        state=state,
        approver=employee.supervisor,
        created_at=created_at or datetime.fromisoformat("2026-11-26T09:00:00+08:00"),
    )
    session.add(claim)
    session.commit()
    return claim


def make_crowd(session: Session, count: int, platform: str, prefix: str = "u") -> list[int]:
    """`count` active workers with ids `{prefix}00001…` on `platform`, inserted in bulk;
    returns their employee ids."""
    from sqlalchemy import insert

    from bot.models import Identity

    created = datetime.fromisoformat("2026-01-01T00:00:00+08:00")
    first = next(_counter)
    session.execute(
        insert(Employee),
        [
            {"employee_no": f"C{first}-{i:05d}", "name": f"工人{i}", "role": Role.WORKER,
             "active": True, "created_at": created}
            for i in range(count)
        ],
    )  # fmt: skip
    ids = list(
        session.scalars(
            select(Employee.id)
            .where(Employee.employee_no.like(f"C{first}-%"))
            .order_by(Employee.id)
        )
    )
    session.execute(
        insert(Identity),
        [
            {"employee_id": eid, "platform": platform, "external_id": f"{prefix}{i:05d}"}
            for i, eid in enumerate(ids)
        ],
    )
    session.commit()
    return ids
