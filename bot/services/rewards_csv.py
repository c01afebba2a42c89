"""The reward catalogue (兑换奖励) as a CSV spreadsheet HR can edit: export, and all-or-nothing
import, columns `code,name,kind,cost,stock,active` (design §15)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Reward, RewardKind
from bot.notices import rewards as texts
from bot.services.csvfile import CsvFormatError, CsvRow, ImportReport, read_csv

COLUMNS = ["code", "name", "kind", "cost", "stock", "active"]
MAX_CODE, MAX_NAME, MAX_COST = 20, 100, 1_000_000
KINDS = tuple(k.value for k in RewardKind)


def export_rewards(session: Session) -> str:
    """Every reward, active or not, as CSV text with a header row, ordered by code."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for reward in sorted(session.scalars(select(Reward)), key=lambda r: r.code):
        writer.writerow(
            [
                reward.code,
                reward.title,
                reward.kind,
                reward.cost,
                "" if reward.stock is None else reward.stock,
                "true" if reward.active else "false",
            ]
        )
    return buf.getvalue()


def import_rewards(session: Session, text: str) -> ImportReport:
    """Create or update rewards by code; all or nothing (a bad row changes nothing and every
    error is reported by line). Rewards missing from the file stay as they are: take one off
    the shelf with `active=false`."""
    try:
        table = read_csv(text, COLUMNS)
    except CsvFormatError as exc:
        return ImportReport(rejected=[(exc.line, str(exc))], applied=False)
    parsed: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        values, errors = _parse_row(row)
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
    existing = {r.code: r for r in session.scalars(select(Reward))}
    for values in parsed:
        reward = existing.get(values["code"])
        if reward is None:
            session.add(Reward(**values))
            report.created += 1
            continue
        changed = [name for name, value in values.items() if getattr(reward, name) != value]
        for name in changed:
            setattr(reward, name, values[name])
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report


def _is_int(raw: str) -> bool:
    digits = raw[1:] if raw[:1] in "+-" else raw
    return digits.isascii() and digits.isdigit()


def _parse_row(row: CsvRow) -> tuple[dict[str, Any], list[str]]:
    """A row's Reward values (only the valid ones) and its errors, in column order."""
    v = row.values
    values: dict[str, Any] = {}
    errors: list[str] = []
    for column, attr, limit in (("code", "code", MAX_CODE), ("name", "title", MAX_NAME)):
        zh = texts.COLUMN_NAMES[column]
        if not v[column]:
            errors.append(texts.CELL_EMPTY.format(column=column, zh=zh))
        elif len(v[column]) > limit:
            errors.append(texts.CELL_TOO_LONG.format(column=column, limit=limit, zh=zh))
        else:
            values[attr] = v[column]
    kind = v["kind"].lower()
    if kind in KINDS:
        values["kind"] = kind
    else:
        errors.append(texts.BAD_KIND.format(value=v["kind"]))
    if _is_int(v["cost"]) and 0 <= int(v["cost"]) <= MAX_COST:
        values["cost"] = int(v["cost"])
    else:
        errors.append(texts.BAD_COST.format(limit=MAX_COST, value=v["cost"]))
    if not v["stock"]:
        values["stock"] = None
    elif _is_int(v["stock"]) and int(v["stock"]) >= 0:
        values["stock"] = int(v["stock"])
    else:
        errors.append(texts.BAD_STOCK.format(value=v["stock"]))
    active = v["active"].lower()
    if active in ("true", "false"):
        values["active"] = active == "true"
    else:
        errors.append(texts.NOT_BOOLEAN.format(column="active", value=v["active"]))
    return values, errors
