"""Importing a spreadsheet from the console: upload (CSV or xlsx) → a preview of every row's
outcome, computed by the real import inside a savepoint that is rolled back → 确认导入 applies
the very file that was previewed. The importers are the CLI's (`import-org`, `rules import`)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import abort, redirect, request, url_for
from sqlalchemy.orm import Session

import console.labels as labels
from bot.models import Employee
from bot.services.audit import record
from bot.services.csvfile import CsvFormatError, ImportReport
from bot.services.kv import cache_put, cache_take
from bot.services.spreadsheets import upload_text
from console.web import db, flash, me, now, page, viewer

KEEP_UPLOAD = timedelta(minutes=30)
NO_FILE = "请选择要导入的 CSV 或 xlsx 文件。"
EXPIRED = "预览已过期或已导入，请重新上传文件。"
APPLIED = "已导入「{name}」：新增 {c}，更新 {u}，不变 {s}。"
NOT_APPLIED = "「{name}」有 {n} 行错误，没有做任何更改，请修改后重新上传。"


@dataclass(frozen=True)
class Importer:
    """One kind of file: its name, the service that imports it, its audit action and pages."""

    kind: str
    title: str
    run: Callable[[Session, str], ImportReport]
    action: str
    back: str  # endpoint of the page the import belongs to
    apply_to: str  # endpoint that applies a previewed file


def _key(kind: str, token: str) -> str:
    return f"console:upload:{viewer().session_id}:{kind}:{token}"


def preview(importer: Importer) -> Any:
    """Read the upload, run the import and roll it back, show what each row would do."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        with db() as session:
            flash(session, NO_FILE, "error")
        return redirect(url_for(importer.back))
    data = upload.read()
    name = upload.filename[:100]
    try:
        text = upload_text(name, data)
    except CsvFormatError as exc:
        report = ImportReport(rejected=[(exc.line, str(exc))], applied=False)
        return page("console/import_preview.html", importer=importer, name=name, report=report,
                    token=None, labels=labels.WOULD)  # fmt: skip
    token = secrets.token_urlsafe(16)
    with db() as session:
        savepoint = session.begin_nested()
        report = importer.run(session, text)
        savepoint.rollback()
        if report.applied:
            stored = {"name": name, "text": text, "sha256": hashlib.sha256(data).hexdigest()}
            cache_put(session, _key(importer.kind, token), json.dumps(stored, ensure_ascii=False),
                      now() + KEEP_UPLOAD)  # fmt: skip
    return page(
        "console/import_preview.html", importer=importer, name=name, report=report,
        token=token if report.applied else None, labels=labels.WOULD,
    )  # fmt: skip


def apply(importer: Importer) -> Any:
    """Import the previewed file for real (once: the stored copy is taken), audited."""
    token = request.form.get("token", "")
    if not token:
        abort(400)
    with db() as session:
        taken = cache_take(session, _key(importer.kind, token), now())
        if taken is None:
            flash(session, EXPIRED, "error")
            return redirect(url_for(importer.back))
        stored = json.loads(taken[0])
        report = importer.run(session, stored["text"])
        actor: Employee = me(session)
        if report.applied:
            record(session, actor, importer.action, "file", stored["name"][:50], {
                "sha256": stored["sha256"], "created": report.created,
                "updated": report.updated, "unchanged": report.unchanged,
            }, now=now())  # fmt: skip
            flash(session, APPLIED.format(name=stored["name"], c=report.created,
                                          u=report.updated, s=report.unchanged))  # fmt: skip
        else:
            # The data changed between preview and apply (someone else imported): the import,
            # all or nothing, changed nothing; the file must be uploaded and previewed again.
            flash(session, NOT_APPLIED.format(name=stored["name"], n=len(report.rejected)), "error")
    return redirect(url_for(importer.back))
