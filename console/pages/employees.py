"""员工: the org chart — search and list, export (CSV with BOM, xlsx) in the import's own columns,
and import (CSV or xlsx) with a preview of every row's outcome before anything changes. The
import is `python -m bot import-org`'s: all or nothing, Chinese headers accepted, only the id
columns of the messengers in use required."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

import console.labels as labels
import console.uploads as uploads
from bot.models import Department, Employee
from bot.platforms import PLATFORMS
from bot.services.org import export_org, import_org, org_header
from bot.services.spreadsheets import CSV_MIME, XLSX_MIME, Sheet, csv_bytes, xlsx_bytes
from console.pages.base import Page
from console.web import db, now, page, page_args, state


def _platforms_in_use() -> list[str]:
    return [p for p in state().adapters if p in PLATFORMS]


def _import(session: Session, text: str) -> Any:
    return import_org(session, text, now=now(), platforms=_platforms_in_use())


IMPORTER = uploads.Importer(
    "org", "组织架构", _import, "org.import", "console.employees", "console.employees_import_apply"
)


def view() -> str:
    """Employees matching the search, by department and number, 50 a page."""
    q = (request.args.get("q") or "").strip()[:50]
    role = request.args.get("role") or ""
    boss = aliased(Employee)
    query = (
        select(Employee, Department.path, boss.name)
        .outerjoin(Department, Department.id == Employee.department_id)
        .outerjoin(boss, boss.id == Employee.supervisor_id)
        .options(selectinload(Employee.identities))
    )
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(
                Employee.name.like(like),
                Employee.employee_no.like(like),
                Department.path.like(like),
            )
        )
    if role in labels.ROLES:
        query = query.where(Employee.role == role)
    with db() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        number, offset, pages = page_args(request.args.get("page"), total)
        rows = session.execute(
            query.order_by(Department.path, Employee.employee_no).limit(50).offset(offset)
        ).all()
        people = [
            {
                "no": e.employee_no, "name": e.name, "department": path or "-",
                "role": labels.ROLES.get(e.role, e.role), "supervisor": boss_name or "-",
                "platforms": "、".join(sorted(_label(i.platform) for i in e.identities)) or "-",
                "active": e.active,
            }
            for e, path, boss_name in rows
        ]  # fmt: skip
    required, optional, _aliases = org_header(_platforms_in_use())
    return page(
        "console/employees.html", people=people, total=total, q=q, role=role,
        roles=labels.ROLES, page_number=number, pages=pages,
        required=required, optional=optional,
    )  # fmt: skip


def _label(platform: str) -> str:
    spec = PLATFORMS.get(platform)
    return spec.label if spec else platform


def export(fmt: str) -> Response:
    """Active employees in the org CSV's columns, ready to edit and import back."""
    with db() as session:
        header, rows = export_org(session)
    if fmt == "xlsx":
        body, mime = xlsx_bytes([Sheet("org", header, rows)]), XLSX_MIME
    else:
        body, mime = csv_bytes(header, rows), CSV_MIME
    return Response(body, mimetype=mime,
                    headers={"Content-Disposition": f"attachment; filename=org.{fmt}"})  # fmt: skip


def install(bp: Blueprint) -> None:
    """/console/employees/… routes."""
    bp.add_url_rule("/employees/", "employees", view)
    bp.add_url_rule("/employees/export.<any(csv, xlsx):fmt>", "employees_export", export)
    bp.add_url_rule("/employees/import", "employees_import", lambda: uploads.preview(IMPORTER),
                    methods=["POST"])  # fmt: skip
    bp.add_url_rule("/employees/import/apply", "employees_import_apply",
                    lambda: uploads.apply(IMPORTER), methods=["POST"])  # fmt: skip


PAGE = Page("employees", "员工", install=install)
