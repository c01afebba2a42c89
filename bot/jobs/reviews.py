"""weekly_checkin (Friday 15:30 on workdays) and likes_reminder (Friday 14:00): the review
prompts of design §14, once per ISO week."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.models import Employee, Role
from bot.notices import reviews as notices
from bot.outbox import enqueue
from bot.services.checkins import open_checkin
from bot.services.likes import TEAM_MINIMUM, iso_week, supervisors_with_teams, team_likes
from cards import Text

if TYPE_CHECKING:
    from bot.jobs.base import JobContext


def run_weekly_checkin(ctx: JobContext) -> str:
    """Every active worker gets this week's check-in ask (one already open is not resent)."""
    workers = ctx.session.scalars(
        select(Employee)
        .where(Employee.role == Role.WORKER, Employee.active.is_(True))
        .order_by(Employee.id)
    )
    opened = sum(
        open_checkin(ctx.session, w, now=ctx.now, tz=ctx.tz, signer=ctx.signer)[1] for w in workers
    )
    return f"week={iso_week(ctx.now, ctx.tz)} opened={opened}"


def run_likes_reminder(ctx: JobContext) -> str:
    """Remind supervisors who liked fewer than two team members this week; HR gets the list."""
    week = iso_week(ctx.now, ctx.tz)
    rows, reminded = [], 0
    for lead in supervisors_with_teams(ctx.session):
        count = team_likes(ctx.session, lead, week)
        rows.append((lead.name, count))
        if count < TEAM_MINIMUM:
            text = notices.LIKES_REMINDER.format(count=count, minimum=TEAM_MINIMUM)
            enqueue(ctx.session, Text(text), now=ctx.now, recipient=lead)
            reminded += 1
    summary = notices.likes_summary(week, rows, TEAM_MINIMUM)
    hr = ctx.session.scalars(
        select(Employee).where(Employee.role == Role.HR, Employee.active.is_(True))
    )
    for person in hr:
        enqueue(ctx.session, summary, now=ctx.now, recipient=person)
    return f"week={week} supervisors={len(rows)} reminded={reminded}"
