"""monthly_star (first workday of the month): 改善之星 of the month before.

Ranking: points in the improvement category (`改善`) credited during the month, net of
reversals. Ties are broken, in order, by (1) more improvement entries, (2) reaching the total
earlier (the earlier last entry wins), (3) employee number. The top three get StarAward rows;
the winner gets a certificate image, and every department (chat or members) gets the news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.jobs.common import send_to_department
from bot.models import Department, Employee, LedgerEntry, StarAward
from bot.notices.images import render_certificate
from bot.services.images import media_ref
from cards import Card, Field

if TYPE_CHECKING:
    from bot.jobs.base import JobContext

CATEGORY = "改善"
AWARDED = 3
TITLE = "🌟 {month} 改善之星"
RUNNERS_UP = "第 {rank} 名：{name}（{department}）{points} 分"
NOTE = "改善提案被采纳并实施 +15，提交合理化建议 +5，下个月就是你！"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An employee's improvement score for the month, with the tie-break keys."""

    employee_id: int
    points: int
    entries: int
    last_at: datetime
    employee_no: str


def month_bounds(period: str, tz) -> tuple[datetime, datetime]:
    """[first instant, first instant of next month) of `2026-11` in local time."""
    year, month = (int(x) for x in period.split("-"))
    start = datetime.combine(datetime(year, month, 1).date(), time(), tz)
    nxt = datetime(year + (month == 12), month % 12 + 1, 1).date()
    return start, datetime.combine(nxt, time(), tz)


def rank_improvers(session: Session, start: datetime, end: datetime) -> list[Candidate]:
    """Everyone with positive improvement points in [start, end), best first (see module doc)."""
    total = func.sum(LedgerEntry.points)
    rows = session.execute(
        select(
            LedgerEntry.employee_id,
            total.label("points"),
            func.count(LedgerEntry.id).label("entries"),
            func.max(LedgerEntry.created_at).label("last_at"),
            Employee.employee_no,
        )
        .join(Employee, Employee.id == LedgerEntry.employee_id)
        .where(
            LedgerEntry.category == CATEGORY,
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
        .group_by(LedgerEntry.employee_id, Employee.employee_no)
        .having(total > 0)
    ).all()
    candidates = [
        Candidate(r.employee_id, int(r.points), r.entries, r.last_at, r.employee_no) for r in rows
    ]
    candidates.sort(key=lambda c: (-c.points, -c.entries, c.last_at, c.employee_no))
    return candidates


def run_monthly_star(ctx: JobContext) -> str:
    """Award the stars of the month before `ctx.now` and announce them; returns counts."""
    from bot.jobs.base import ranked_month_period

    session = ctx.session
    period = ranked_month_period(ctx.now, ctx.tz)
    start, end = month_bounds(period, ctx.tz)
    winners = rank_improvers(session, start, end)[:AWARDED]
    if not winners:
        return f"month={period} awards=0 messages=0"
    people = {
        e.id: e
        for e in session.scalars(
            select(Employee).where(Employee.id.in_([w.employee_id for w in winners]))
        )
    }
    for rank, w in enumerate(winners, start=1):
        session.add(
            StarAward(
                month=period,
                employee_id=w.employee_id,
                points=w.points,
                rank=rank,
                created_at=ctx.now,
            )
        )
    star = people[winners[0].employee_id]
    dept_name = star.department.name if star.department else "-"
    month_label = f"{start:%Y年%m月}"
    path = ctx.media_dir / "stars" / period / f"star-{star.id}.png"
    render_certificate(
        path, month=month_label, name=star.name, department=dept_name, points=winners[0].points
    )
    lines = tuple(
        RUNNERS_UP.format(
            rank=rank, name=people[w.employee_id].name, points=w.points,
            department=people[w.employee_id].department.name if people[w.employee_id].department else "-",
        )
        for rank, w in enumerate(winners[1:], start=2)
    )  # fmt: skip
    card = Card(
        title=TITLE.format(month=month_label),
        fields=(
            Field("改善之星", f"{star.name}（{dept_name}）"),
            Field("改善积分", f"{winners[0].points} 分"),
        ),
        lines=lines,
        image=media_ref(ctx.media_dir, path),
        note=NOTE,
    )
    sent = 0
    for department in session.scalars(select(Department).order_by(Department.id)):
        sent += send_to_department(session, department, card, now=ctx.now, platforms=ctx.platforms)
    session.flush()
    return f"month={period} awards={len(winners)} messages={sent}"
