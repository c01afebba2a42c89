"""The rule catalogue (规则) as a CSV spreadsheet HR can edit: export, and all-or-nothing import."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Rule
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
                errors.append(f"duplicate code {code}, first on line {first_line[code]} (编号重复)")
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
            errors.append(f"{column} is empty ({zh}为空)")
        elif len(v[column]) > limit:
            errors.append(f"{column} longer than {limit} characters ({zh}超过 {limit} 个字符)")
        else:
            values[column] = v[column]

    def boolean(column: str) -> None:
        lowered = v[column].lower()
        if lowered in ("true", "false"):
            values[column] = lowered == "true"
        else:
            errors.append(f"{column} must be true or false, got {v[column]!r} (须填 true 或 false)")

    def cap(column: str) -> None:
        if not v[column]:
            values[column] = None
        elif _is_int(v[column]) and int(v[column]) > 0:
            values[column] = int(v[column])
        else:
            errors.append(
                f"{column} must be empty or a positive integer, got {v[column]!r} "
                f"(上限须留空或填正整数)"
            )

    text("code", MAX_CODE, "编号")
    grade = v["grade"].upper()
    if grade in GRADES:
        values["grade"] = grade
    else:
        errors.append(f"grade must be A, B or C, got {v['grade']!r} (等级须为 A/B/C)")
    if _is_int(v["points"]) and MIN_POINTS <= int(v["points"]) <= MAX_POINTS:
        values["points"] = int(v["points"])
    else:
        errors.append(
            f"points must be a whole number from {MIN_POINTS} to {MAX_POINTS}, "
            f"got {v['points']!r} (分值须为 {MIN_POINTS}–{MAX_POINTS} 的整数)"
        )
    text("category", MAX_CATEGORY, "类别")
    text("title", MAX_TITLE, "名称")
    boolean("evidence_required")
    cap("daily_cap")
    cap("weekly_cap")
    daily, weekly = values.get("daily_cap"), values.get("weekly_cap")
    if daily is not None and weekly is not None and weekly < daily:
        errors.append(f"weekly_cap {weekly} is below daily_cap {daily} (周上限不能小于日上限)")
    boolean("active")
    return values, errors


def _is_int(raw: str) -> bool:
    """True for a plain decimal integer like `5` or `-3` (not `5.0`, `1e2` or `５`)."""
    digits = raw[1:] if raw[:1] in "+-" else raw
    return digits.isascii() and digits.isdigit()
