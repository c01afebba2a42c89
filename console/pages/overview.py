"""概览: participation and points this week, the weekly trend, pending approvals, and open asks
by age (design §16).

Features add to it without touching this module's code paths: a trend series (the changes
feature's first-retest hours) is a function in TRENDS, a panel (suggestion clocks) a function
in PANELS; each takes (session, now, tz) and returns None until it has something to show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, url_for
from sqlalchemy.orm import Session

import console.labels as labels
from bot.services import overview as data
from bot.services.change_report import BASELINE_HOURS, change_report
from bot.services.suggestions import month_counts
from console.chart import Series, trend_svg
from console.pages.base import Page
from console.web import age, db, local, now, page, state

WEEKS = 8
AGE_HEADINGS = ("4 小时内", "4–24 小时", "1–3 天", "3 天以上")


@dataclass(frozen=True, slots=True)
class Panel:
    """A box on the overview: a title and (label, value) lines, optionally a link."""

    title: str
    lines: tuple[tuple[str, str], ...]
    link: str | None = None


TrendSource = Callable[[Session, datetime, ZoneInfo], Series | None]
PanelSource = Callable[[Session, datetime, ZoneInfo], Panel | None]


def participation_trend(session: Session, when: datetime, tz: ZoneInfo) -> Series:
    """Share of frontline staff who earned points, per week."""
    weeks = data.weekly_trend(session, when, tz, WEEKS)
    return Series(
        "参与率（每周有积分入账的一线员工占比）",
        "%",
        [(w.monday.astimezone(tz), round(w.participation * 100, 1)) for w in weeks],
        note="本周为截至目前",
        top=100,
    )


def points_trend(session: Session, when: datetime, tz: ZoneInfo) -> Series:
    """Points earned per week."""
    weeks = data.weekly_trend(session, when, tz, WEEKS)
    return Series("每周获得积分", "", [(w.monday.astimezone(tz), w.points) for w in weeks])


def first_retest_trend(session: Session, when: datetime, tz: ZoneInfo) -> Series | None:
    """Median hours from an engineering change to its first retest report, per week of the
    change (design §13); None while no change was made in these weeks."""
    today = when.astimezone(tz).date()
    start = today - timedelta(days=today.weekday() + 7 * (WEEKS - 1))
    report = change_report(session, start, today, tz)
    if not report.changes:
        return None
    return Series(
        "变更到首次重测报告（中位数）",
        " 小时",
        [(datetime.combine(w.start, time(), tz), w.median_hours) for w in report.weeks],
        note=f"改进前基线 {BASELINE_HOURS} 小时；按变更发起的周统计",
    )


def suggestion_panel(session: Session, when: datetime, tz: ZoneInfo) -> Panel | None:
    """This month's suggestions against their 72-hour clock (design §15)."""
    local_now = when.astimezone(tz)
    start = datetime.combine(local_now.date().replace(day=1), time(), tz)
    rows = month_counts(session, start, when, when)
    if not rows:
        return None
    total = {k: sum(int(r[k]) for r in rows) for k in ("submitted", "on_time", "late", "adopted")}
    return Panel(
        "本月合理化建议（72 小时内答复）",
        (
            ("提交", f"{total['submitted']} 条"),
            ("按时答复", f"{total['on_time']} 条"),
            ("超时或未答复", f"{total['late']} 条"),
            ("采纳", f"{total['adopted']} 条"),
        ),
        link=url_for("console.reports"),
    )


TRENDS: list[TrendSource] = [participation_trend, points_trend, first_retest_trend]
PANELS: list[PanelSource] = [suggestion_panel]


def view() -> str:
    """The overview page."""
    tz = state().config.tz
    when = now()
    with db() as session:
        staff = data.frontline_count(session)
        week = data.weekly_trend(session, when, tz, 2)
        pending = data.pending_claims(session)
        by_age = data.asks_by_age(session, when)
        oldest = data.oldest_asks(session, 10)
        charts = [s for s in (source(session, when, tz) for source in TRENDS) if s is not None]
        panels = [p for p in (source(session, when, tz) for source in PANELS) if p is not None]
        waiting = [
            {
                "kind": labels.ask_kind(w.ask.kind),
                "title": w.ask.title,
                "owner": f"{w.owner_name}（{w.owner_no}）",
                "age": age(w.ask.created_at),
                "due": local(w.ask.due_at),
                "overdue": w.ask.due_at is not None and w.ask.due_at < when,
            }
            for w in oldest
        ]
    return page(
        "console/overview.html",
        staff=staff,
        this_week=week[-1],
        last_week=week[0],
        pending=pending,
        pending_age=age(pending.oldest_at),
        by_age=[(labels.ask_kind(r.kind), r) for r in by_age],
        age_headings=AGE_HEADINGS,
        waiting=waiting,
        charts=[(s, trend_svg(s)) for s in charts],
        panels=panels,
    )


def install(bp: Blueprint) -> None:
    """/console/ itself."""
    bp.add_url_rule("/", "overview", view)


PAGE = Page("", "概览", install=install)
