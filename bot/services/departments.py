"""Department group chats (部门群) imported from CSV (design §10)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.models import Department, DepartmentChat
from bot.notices import imports as texts
from bot.platforms import PLATFORMS, chat_columns
from bot.services.csvfile import CsvFormatError, ImportReport, read_csv
from bot.services.org import DepartmentTree, normalize_path, path_problem, set_if_changed


def department_columns() -> tuple[str, ...]:
    """The departments CSV's columns: the path, then each platform's group chat id."""
    return ("department", *chat_columns().values())


def import_departments(session: Session, text: str) -> ImportReport:
    """Set each department's group chat ids from a departments CSV, creating missing paths.

    An empty chat id cell clears that chat (members are then messaged 1:1). A rejected row
    changes nothing; the others are applied.
    """
    try:
        columns = chat_columns()
        table = read_csv(text, department_columns())
    except CsvFormatError as exc:
        return ImportReport(rejected=[(exc.line, str(exc))], applied=False)
    errors: dict[int, list[str]] = {row.line: [] for row in table.rows}
    lines_of: dict[str, list[int]] = {}
    for row in table.rows:
        path = normalize_path(row.values["department"])
        if not path:
            errors[row.line].append(texts.NO_DEPARTMENT)
        elif problem := path_problem(path):
            errors[row.line].append(problem)
        else:
            lines_of.setdefault(path, []).append(row.line)
        for platform, column in columns.items():
            limit = PLATFORMS[platform].chat_id_max
            if len(row.values[column]) > limit:
                errors[row.line].append(texts.CHAT_ID_TOO_LONG.format(column=column, limit=limit))
    for path, lines in lines_of.items():
        if len(lines) > 1:
            listed = ", ".join(map(str, lines))
            for line in lines:
                errors[line].append(texts.DUPLICATE_DEPARTMENT.format(path=path, lines=listed))
    report = ImportReport(
        rejected=[(line, "; ".join(errs)) for line, errs in errors.items() if errs]
    )

    tree = DepartmentTree(session)
    for row in table.rows:
        if errors[row.line]:
            continue
        dept, created = tree.ensure(normalize_path(row.values["department"]))
        changed = False
        for platform, column in columns.items():
            changed |= _set_chat(dept, platform, row.values[column] or None)
        if created:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report


def _set_chat(dept: Department, platform: str, chat_id: str | None) -> bool:
    """Give the department this group chat on `platform` (None: none); True when it changed."""
    current = next((c for c in dept.chats if c.platform == platform), None)
    if current is None:
        if chat_id is None:
            return False
        dept.chats.append(DepartmentChat(platform=platform, chat_id=chat_id))
        return True
    if chat_id is None:
        dept.chats.remove(current)
        return True
    return set_if_changed(current, "chat_id", chat_id)
