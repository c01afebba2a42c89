"""规则: the rule catalogue — list, edit one rule, add one, export (CSV with BOM, xlsx), and
import with a preview. Editing goes through the CSV import's own checks (rules_csv.save_rule),
and every saved change is in the audit log with its old and new values."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

import console.labels as labels
import console.uploads as uploads
from bot.errors import InvalidInput, NotFound
from bot.models import Rule
from bot.services.audit import record
from bot.services.rules_csv import COLUMNS, RuleChange, export_rules, import_rules, save_rule
from bot.services.spreadsheets import CSV_MIME, XLSX_MIME, Sheet, csv_bytes, xlsx_bytes
from console.pages.base import Page
from console.web import db, flash, me, now, page

SAVED = "已保存规则 {code}：{changes}"
CREATED = "已新增规则 {code}"
NOTHING_CHANGED = "规则 {code} 没有改动。"
IMPORTER = uploads.Importer(
    "rules", "规则", import_rules, "rules.import", "console.rules", "console.rules_import_apply"
)


def _rules() -> list[Rule]:
    with db() as session:
        # Sorted here, not in SQL: PostgreSQL's collation may order codes differently.
        return sorted(session.scalars(select(Rule)), key=lambda r: r.code)


def view() -> str:
    """Every rule, active ones first within each grade."""
    return page("console/rules.html", rules=_rules(), fields=labels.RULE_FIELDS)


def _form_values(rule: Rule | None) -> dict[str, str]:
    if rule is None:
        return {c: "" for c in COLUMNS} | {"evidence_required": "true", "active": "true"}
    values = {c: getattr(rule, c) for c in COLUMNS}
    return {
        c: ("true" if v else "false") if isinstance(v, bool) else ("" if v is None else str(v))
        for c, v in values.items()
    }


def _posted() -> dict[str, str]:
    values = {c: (request.form.get(c) or "").strip() for c in COLUMNS}
    for flag in ("evidence_required", "active"):
        values[flag] = "true" if request.form.get(flag) else "false"
    return values


def edit(code: str | None = None) -> Any:
    """The edit form (GET) and saving it (POST); a bad field re-shows the form with why."""
    if request.method == "GET":
        with db() as session:
            rule = session.scalar(select(Rule).where(Rule.code == code)) if code else None
            values = _form_values(rule)
        if code and rule is None:
            abort(404)
        return page("console/rule_edit.html", code=code, values=values,
                    fields=labels.RULE_FIELDS, error=None)  # fmt: skip
    values = _posted()
    error = None
    with db() as session:
        try:
            with session.begin_nested():
                change = save_rule(session, values, code=code)
        except NotFound:
            abort(404)
        except InvalidInput as exc:
            error = exc.user_message
        else:
            _record(session, change)
    if error is not None:
        return page("console/rule_edit.html", code=code, values=values,
                    fields=labels.RULE_FIELDS, error=error)  # fmt: skip
    return redirect(url_for("console.rules"))


def _record(session: Session, change: RuleChange) -> None:
    """The audit entry and the message for the next page."""
    saved = change.rule.code
    if change.created:
        record(session, me(session), "rule.create", "rule", saved,
               {"values": {k: v for k, (_, v) in change.changes.items()}}, now=now())  # fmt: skip
        flash(session, CREATED.format(code=saved))
    elif change.changes:
        record(session, me(session), "rule.update", "rule", saved,
               {"changes": {k: [old, new] for k, (old, new) in change.changes.items()}},
               now=now())  # fmt: skip
        described = "，".join(
            f"{labels.RULE_FIELDS[k]} {_show(old)} → {_show(new)}"
            for k, (old, new) in change.changes.items()
        )
        flash(session, SAVED.format(code=saved, changes=described))
    else:
        flash(session, NOTHING_CHANGED.format(code=saved))


def _show(value: object) -> str:
    if value is None:
        return "不限"
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def export(fmt: str) -> Response:
    """The catalogue as the CLI exports it: CSV (UTF-8 with BOM) or xlsx, the same columns."""
    with db() as session:
        text = export_rules(session)
    header, *rows = list(csv.reader(io.StringIO(text)))
    if fmt == "xlsx":
        typed = [[int(v) if v.isdigit() else v for v in row] for row in rows]
        body, mime = xlsx_bytes([Sheet("rules", header, typed)]), XLSX_MIME
    else:
        body, mime = csv_bytes(header, rows), CSV_MIME
    return Response(body, mimetype=mime,
                    headers={"Content-Disposition": f"attachment; filename=rules.{fmt}"})  # fmt: skip


def install(bp: Blueprint) -> None:
    """/console/rules/… routes."""
    bp.add_url_rule("/rules/", "rules", view)
    bp.add_url_rule("/rules/new", "rule_new", edit, methods=["GET", "POST"])
    bp.add_url_rule("/rules/<code>", "rule_edit", edit, methods=["GET", "POST"])
    bp.add_url_rule("/rules/export.<any(csv, xlsx):fmt>", "rules_export", export)
    bp.add_url_rule("/rules/import", "rules_import", lambda: uploads.preview(IMPORTER),
                    methods=["POST"])  # fmt: skip
    bp.add_url_rule("/rules/import/apply", "rules_import_apply", lambda: uploads.apply(IMPORTER),
                    methods=["POST"])  # fmt: skip


PAGE = Page("rules", "规则", install=install)
