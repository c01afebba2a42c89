"""The rule catalogue (规则) as a CSV spreadsheet HR can edit: export, and all-or-nothing import."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Rule
from bot.notices import imports as texts
from bot.services.csvfile import CsvFormatError, CsvRow, ImportReport, read_csv

COLUMNS = [
    "code",
    "grade",
    "points",
    "category",
    "title",
    "evidence_required",
    "daily_cap",
    "weekly_cap",
    "active",
]
GRADES = ("A", "B", "C")
MIN_POINTS, MAX_POINTS = 1, 100
MAX_CODE, MAX_CATEGORY, MAX_TITLE = 20, 20, 100


def export_rules(session: Session) -> str:
    """Every rule, active or not, as CSV text with a header row, ordered by code."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    # Sorted here, not in SQL: PostgreSQL's collation may order codes differently from SQLite's.
    for rule in sorted(session.scalars(select(Rule)), key=lambda r: r.code):
        writer.writerow(
            [
                rule.code,
                rule.grade,
                rule.points,
                rule.category,
                rule.title,
                _format_bool(rule.evidence_required),
                "" if rule.daily_cap is None else rule.daily_cap,
                "" if rule.weekly_cap is None else rule.weekly_cap,
                _format_bool(rule.active),
            ]
        )
    return buf.getvalue()


def import_rules(session: Session, text: str) -> ImportReport:
    """Create or update rules by code from CSV text; all or nothing.

    If any row is bad nothing is changed and the report lists every error (`applied` False).
    Rules missing from the file are left as they are: rules are never deleted, only
    deactivated with `active=false`.
    """
    try:
        table = read_csv(text, COLUMNS)
    except CsvFormatError as exc:
        return ImportReport(rejected=[(exc.line, str(exc))], applied=False)
    parsed: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        values, errors = _parse_rule_row(row)
        code = values.get("code")
        if code is not None:
            if code in first_line:
                errors.append(texts.DUPLICATE_CODE.format(code=code, line=first_line[code]))
            else:
                first_line[code] = row.line
        if errors:
            rejected.append((row.line, "; ".join(errors)))
        else:
            parsed.append(values)
    if rejected:
        return ImportReport(rejected=rejected, applied=False)

    report = ImportReport()
    existing = {r.code: r for r in session.scalars(select(Rule))}
    for values in parsed:
        rule = existing.get(values["code"])
        if rule is None:
            session.add(Rule(**values))
            report.created += 1
            continue
        changed = False
        for name, value in values.items():
            if getattr(rule, name) != value:
                setattr(rule, name, value)
                changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def _parse_rule_row(row: CsvRow) -> tuple[dict[str, Any], list[str]]:
    """A row's Rule field values (only the valid ones) and its errors, in column order."""
    v = row.values
    values: dict[str, Any] = {}
    errors: list[str] = []

    def text(column: str, limit: int, zh: str) -> None:
        if not v[column]:
            errors.append(texts.CELL_EMPTY.format(column=column, zh=zh))
        elif len(v[column]) > limit:
            errors.append(texts.CELL_TOO_LONG.format(column=column, limit=limit, zh=zh))
        else:
            values[column] = v[column]

    def boolean(column: str) -> None:
        lowered = v[column].lower()
        if lowered in ("true", "false"):
            values[column] = lowered == "true"
        else:
            errors.append(texts.NOT_BOOLEAN.format(column=column, value=v[column]))

    def cap(column: str) -> None:
        if not v[column]:
            values[column] = None
        elif _is_int(v[column]) and int(v[column]) > 0:
            values[column] = int(v[column])
        else:
            errors.append(texts.BAD_CAP.format(column=column, value=v[column]))

    text("code", MAX_CODE, texts.RULE_COLUMN_NAMES["code"])
    grade = v["grade"].upper()
    if grade in GRADES:
        values["grade"] = grade
    else:
        errors.append(texts.BAD_GRADE.format(value=v["grade"]))
    if _is_int(v["points"]) and MIN_POINTS <= int(v["points"]) <= MAX_POINTS:
        values["points"] = int(v["points"])
    else:
        errors.append(texts.BAD_POINTS.format(low=MIN_POINTS, high=MAX_POINTS, value=v["points"]))
    text("category", MAX_CATEGORY, texts.RULE_COLUMN_NAMES["category"])
    text("title", MAX_TITLE, texts.RULE_COLUMN_NAMES["title"])
    boolean("evidence_required")
    cap("daily_cap")
    cap("weekly_cap")
    daily, weekly = values.get("daily_cap"), values.get("weekly_cap")
    if daily is not None and weekly is not None and weekly < daily:
        errors.append(texts.CAPS_INVERTED.format(weekly=weekly, daily=daily))
    boolean("active")
    return values, errors


def _is_int(raw: str) -> bool:
    """True for a plain decimal integer like `5` or `-3` (not `5.0`, `1e2` or `５`)."""
    digits = raw[1:] if raw[:1] in "+-" else raw
    return digits.isascii() and digits.isdigit()
