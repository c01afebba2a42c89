"""报表: the xlsx reports of console/reports.py, one download each."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort

from bot.services.spreadsheets import XLSX_MIME, xlsx_bytes
from console.pages.base import Page
from console.reports import REPORTS
from console.web import db, now, page, state


def view() -> str:
    """The list of reports."""
    return page("console/reports.html", reports=list(REPORTS.values()))


def download(name: str) -> Response:
    """One report as .xlsx, named with its title and the local date."""
    report = REPORTS.get(name)
    if report is None:
        abort(404)
    tz = state().config.tz
    when: datetime = now()
    with db() as session:
        body = xlsx_bytes(report.build(session, when, tz))
    filename = f"{report.title}-{when.astimezone(tz):%Y%m%d}.xlsx"
    response = Response(body, mimetype=XLSX_MIME)
    # RFC 6266/5987: an ASCII fallback, and the Chinese name for browsers that read it.
    response.headers["Content-Disposition"] = (
        f"attachment; filename={name}.xlsx; filename*=UTF-8''{quote(filename)}"
    )
    return response


def install(bp: Blueprint) -> None:
    """/console/reports/…"""
    bp.add_url_rule("/reports/", "reports", view)
    bp.add_url_rule("/reports/<name>.xlsx", "report", download)


PAGE = Page("reports", "报表", install=install)
