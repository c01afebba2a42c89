"""monthly_suggestions (first workday of the month, ~09:37): HR gets last month's suggestion
counts per department — submitted, answered within 72 hours, late, adopted, implemented."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.models import Employee, Role
from bot.notices import suggestions as texts
from bot.outbox import enqueue_many
from bot.services.suggestions import month_counts

if TYPE_CHECKING:
    from bot.jobs.base import JobContext


def run_monthly_suggestions(ctx: JobContext) -> str:
    """Queue the month-before's counts to every active HR person; returns counts."""
    first = ctx.local_now.date().replace(day=1)
    start_day = (first - timedelta(days=1)).replace(day=1)
    start = datetime.combine(start_day, time(), ctx.tz)
    end = datetime.combine(first, time(), ctx.tz)
    rows = month_counts(ctx.session, start, end, ctx.now)
    if not rows:
        return "suggestions=0 sent=0"
    card = texts.stats_card(start_day.strftime("%Y-%m"), rows).to_dict()
    hr = ctx.session.scalars(
        select(Employee.id).where(Employee.role == Role.HR, Employee.active.is_(True))
    )
    sent = enqueue_many(ctx.session, [(person, card) for person in hr], ctx.now)
    return f"suggestions={sum(int(r['submitted']) for r in rows)} sent={sent}"  # type: ignore[call-overload]
