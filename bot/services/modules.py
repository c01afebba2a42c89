"""Module owners (模块负责人) as a CSV spreadsheet HR can edit: `module,owner_no`, one row per
owner of a module. Import is all or nothing: a module named in the file gets exactly the owners
listed there; modules the file does not name keep theirs."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.models import Employee, ModuleOwner
from bot.notices import imports as texts
from bot.services.csvfile import CsvFormatError, ImportReport, read_csv

COLUMNS = ["module", "owner_no"]
MAX_MODULE = 100
ZH = texts.MODULE_COLUMN_NAMES


def export_module_owners(session: Session) -> str:
    """Every module owner as CSV text with a header row, by module then employee number."""
    rows = session.execute(
        select(ModuleOwner.module, Employee.employee_no).join(
            Employee, Employee.id == ModuleOwner.employee_id
        )
    ).all()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    # Sorted here, not in SQL: PostgreSQL's collation may order Chinese differently from SQLite's.
    writer.writerows(sorted((module, number) for module, number in rows))
    return buf.getvalue()


def import_module_owners(session: Session, text: str, *, now: datetime) -> ImportReport:
    """Set the owners of every module named in the CSV text; all or nothing.

    If any row is bad nothing changes and the report lists every error by line (`applied`
    False). `created` counts owners added, `removed` owners no longer listed for their
    module, `unchanged` the rest.
    """
    try:
        table = read_csv(text, COLUMNS)
    except CsvFormatError as exc:
        return ImportReport(rejected=[(exc.line, str(exc))], applied=False)
    numbers = {row.values["owner_no"] for row in table.rows if row.values["owner_no"]}
    people = {
        p.employee_no: p
        for p in session.scalars(select(Employee).where(Employee.employee_no.in_(numbers)))
    }
    wanted: dict[str, dict[int, int]] = {}  # module → employee id → first line
    rejected: list[tuple[int, str]] = []
    for row in table.rows:
        module, number = row.values["module"], row.values["owner_no"]
        errors = []
        if not module:
            errors.append(texts.CELL_EMPTY.format(column="module", zh=ZH["module"]))
        elif len(module) > MAX_MODULE:
            errors.append(
                texts.CELL_TOO_LONG.format(column="module", limit=MAX_MODULE, zh=ZH["module"])
            )
        person = people.get(number)
        if not number:
            errors.append(texts.CELL_EMPTY.format(column="owner_no", zh=ZH["owner_no"]))
        elif person is None or not person.active:
            errors.append(texts.UNKNOWN_OWNER.format(no=number))
        elif module and person.id in wanted.get(module, {}):
            first = wanted[module][person.id]
            errors.append(texts.DUPLICATE_OWNER.format(no=number, module=module, line=first))
        if errors:
            rejected.append((row.line, "; ".join(errors)))
        elif person is not None:
            wanted.setdefault(module, {})[person.id] = row.line
    if rejected:
        return ImportReport(rejected=rejected, applied=False)
    report = ImportReport()
    existing: dict[str, set[int]] = {}
    for module, employee_id in session.execute(
        select(ModuleOwner.module, ModuleOwner.employee_id).where(ModuleOwner.module.in_(wanted))
    ):
        existing.setdefault(module, set()).add(employee_id)
    for module, owners in wanted.items():
        had = existing.get(module, set())
        gone = had - set(owners)
        if gone:
            session.execute(
                delete(ModuleOwner).where(
                    ModuleOwner.module == module, ModuleOwner.employee_id.in_(gone)
                )
            )
        session.add_all(
            ModuleOwner(module=module, employee_id=employee_id, created_at=now)
            for employee_id in owners
            if employee_id not in had
        )
        report.created += len(set(owners) - had)
        report.unchanged += len(had & set(owners))
        report.removed += len(gone)
    session.flush()
    return report
