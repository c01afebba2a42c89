"""The rule catalogue (规则) as a CSV spreadsheet HR can edit: export, and all-or-nothing import."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput, NotFound
from bot.models import Rule
from bot.notices import imports as texts
from bot.services.csvfile import (
    CsvFormatError,
    ImportReport,
    Outcome,
    RowOutcome,
    read_csv,
)

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

    If any row is bad nothing is changed and the report lists every error (`applied` False);
    `rows` says what each row did, or would have done. Rules missing from the file are left as
    they are: rules are never deleted, only deactivated with `active=false`.
    """
    try:
        table = read_csv(text, COLUMNS)
    except CsvFormatError as exc:
        return ImportReport(rejected=[(exc.line, str(exc))], applied=False)
    existing = {r.code: r for r in session.scalars(select(Rule))}
    report = ImportReport()
    valid: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        values, errors = parse_rule(row.values)
        code = values.get("code")
        if code is not None:
            if code in first_line:
                errors.append(texts.DUPLICATE_CODE.format(code=code, line=first_line[code]))
            else:
                first_line[code] = row.line
        key = code or row.values["code"]
        if errors:
            report.rejected.append((row.line, "; ".join(errors)))
            report.rows.append(RowOutcome(row.line, key, Outcome.REJECTED, "; ".join(errors)))
            continue
        valid.append(values)
        rule = existing.get(values["code"])
        changed = [] if rule is None else _differences(rule, values)
        outcome = (
            Outcome.CREATED if rule is None else Outcome.UPDATED if changed else Outcome.UNCHANGED
        )
        report.rows.append(RowOutcome(row.line, key, outcome, ", ".join(changed)))
    if report.rejected:
        report.applied = False
        return report
    for done in report.rows:
        setattr(report, done.outcome, getattr(report, done.outcome) + 1)
    for values in valid:
        rule = existing.get(values["code"])
        if rule is None:
            session.add(Rule(**values))
        else:
            for name, value in values.items():
                setattr(rule, name, value)
    session.flush()
    return report


def _differences(rule: Rule, values: dict[str, Any]) -> list[str]:
    return [name for name, value in values.items() if getattr(rule, name) != value]


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One rule saved from a form: the rule, whether it is new, and each changed field's
    (old, new) value (what the audit log records)."""

    rule: Rule
    created: bool
    changes: dict[str, tuple[Any, Any]]


def save_rule(session: Session, raw: dict[str, str], *, code: str | None = None) -> RuleChange:
    """Create or update one rule from text fields named like the CSV columns, checked exactly
    as a CSV row is (the console's edit form). With `code`, that existing rule is edited and
    the code itself cannot change.

    Raises:
        InvalidInput: any field is bad (every problem in one message); nothing changes.
        NotFound: `code` names no rule.
    """
    existing = None
    if code is not None:
        existing = session.scalar(select(Rule).where(Rule.code == code))
        if existing is None:
            raise NotFound()
        raw = {**raw, "code": code}
    values, errors = parse_rule({c: (raw.get(c) or "").strip() for c in COLUMNS})
    taken = select(Rule.id).where(Rule.code == values.get("code"))
    if existing is None and not errors and session.scalar(taken) is not None:
        errors.append(texts.CODE_TAKEN.format(code=values["code"]))
    if errors:
        raise InvalidInput("; ".join(errors))
    if existing is None:
        rule = Rule(**values)
        session.add(rule)
        session.flush()
        return RuleChange(rule, True, {name: (None, value) for name, value in values.items()})
    changes = {
        name: (getattr(existing, name), values[name]) for name in _differences(existing, values)
    }
    for name, (_old, new) in changes.items():
        setattr(existing, name, new)
    session.flush()
    return RuleChange(existing, False, changes)


def _format_bool(value: bool) -> str:
    return "true" if value else "false"


def parse_rule(v: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """A rule's field values from its stripped text cells by column name (only the valid
    ones) and its errors, in column order."""
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
