"""Scheduled jobs (定时任务): the registry, period keys and the idempotent runner.

Every run first inserts JobRun(job, period) in the same transaction as the messages it queues,
so a second run of the same period — a retry, `jobs run` twice, or two schedulers racing —
finds the row (or waits for the first transaction and then finds it) and sends nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from bot.db import session_scope
from bot.jobs.base import (
    JobContext,
    JobOutcome,
    JobSpec,
    claim_period,
    day_period,
    minute_period,
    ranked_month_period,
    ranked_week_period,
    week_period,
)
from bot.models import JobRun
from bot.services.workcal import WorkCalendar, load_calendar
from bot.signing import Signer


def _registry() -> dict[str, JobSpec]:
    from bot.jobs import approvals, daily, leaderboard, reviews, star, suggestions, tick
    from bot.jobs import ledger as ledger_jobs

    specs = [
        JobSpec(
            "daily_tasks",
            daily.run_daily_tasks,
            day_period,
            lambda tz, j: CronTrigger(hour=8, minute=57, timezone=tz, jitter=j or None),
            gate=lambda cal, now: cal.is_workday(now.astimezone(cal.tz).date()),
        ),
        JobSpec(
            "weekly_leaderboard",
            leaderboard.run_weekly_leaderboard,
            ranked_week_period,
            lambda tz, j: CronTrigger(
                day_of_week="mon", hour=9, minute=3, timezone=tz, jitter=j or None
            ),
        ),
        JobSpec(
            "monthly_star",
            star.run_monthly_star,
            ranked_month_period,
            # :33, not :30 — WeCom and Feishu ask callers to avoid :00 and :30 (platforms.md §2).
            lambda tz, j: CronTrigger(day="1-10", hour=9, minute=33, timezone=tz, jitter=j or None),
            gate=lambda cal, now: (
                (d := now.astimezone(cal.tz).date()) == cal.first_workday_of_month(d.year, d.month)
            ),
        ),
        JobSpec(
            "monthly_suggestions",
            suggestions.run_monthly_suggestions,
            ranked_month_period,
            lambda tz, j: CronTrigger(day="1-10", hour=9, minute=37, timezone=tz, jitter=j or None),
            gate=lambda cal, now: (
                (d := now.astimezone(cal.tz).date()) == cal.first_workday_of_month(d.year, d.month)
            ),
        ),
        JobSpec(
            "escalation_tick",
            tick.run_escalation_tick,
            minute_period,
            lambda tz, j: CronTrigger(second=0, timezone=tz),
        ),
        JobSpec(
            "approval_reminders",
            approvals.run_approval_reminders,
            minute_period,
            lambda tz, j: CronTrigger(minute="*/10", second=30, timezone=tz),
        ),
        JobSpec(
            "weekly_checkin",
            reviews.run_weekly_checkin,
            week_period,
            lambda tz, j: CronTrigger(
                day_of_week="fri", hour=15, minute=30, timezone=tz, jitter=j or None
            ),
            gate=lambda cal, now: cal.is_workday(now.astimezone(cal.tz).date()),
        ),
        JobSpec(
            "likes_reminder",
            reviews.run_likes_reminder,
            week_period,
            lambda tz, j: CronTrigger(
                day_of_week="fri", hour=14, minute=0, timezone=tz, jitter=j or None
            ),
        ),
        JobSpec(
            "ledger_checkpoint",
            ledger_jobs.run_ledger_checkpoint,
            day_period,
            # Every day, as the workday starts (HR reads it with the morning's messages).
            lambda tz, j: CronTrigger(hour=8, minute=47, timezone=tz, jitter=j or None),
        ),
    ]
    return {s.name: s for s in specs}


JOBS: dict[str, JobSpec] = _registry()
KEEP_MINUTE_RUNS = timedelta(days=7)


def run_job(
    factory: sessionmaker[Session],
    name: str,
    now: datetime,
    *,
    tz: ZoneInfo,
    signer: Signer,
    media_dir: Path,
    platforms: frozenset[str] = frozenset(),
    scheduled: bool = False,
    checkpoint_dir: Path | None = None,
) -> JobOutcome:
    """Run job `name` as at `now`, at most once per period.

    With `scheduled`, the job's day gate applies (daily_tasks only on workdays, monthly_star
    only on the month's first workday); a manual `jobs run` always runs.

    Raises:
        KeyError: unknown job name.
    """
    spec = JOBS[name]
    period = spec.period(now, tz)
    with session_scope(factory) as session:
        calendar = load_calendar(session, tz, now.astimezone(tz).date())
        if scheduled and spec.gate is not None and not spec.gate(calendar, now):
            return JobOutcome(name, period, False, "not scheduled today")
        run = claim_period(session, name, period, now)
        if run is None:
            return JobOutcome(name, period, False, "already ran for this period")
        ctx = JobContext(session, now, tz, signer, media_dir, calendar, platforms, checkpoint_dir)
        result = spec.run(ctx)
        run.finished_at, run.result = now, result[:200]
        if spec.period is minute_period:
            session.execute(
                delete(JobRun).where(JobRun.job == name, JobRun.started_at < now - KEEP_MINUTE_RUNS)
            )
    return JobOutcome(name, period, True, result)


def next_run(name: str, now: datetime, tz: ZoneInfo, calendar: WorkCalendar) -> datetime | None:
    """When the scheduler will next run `name` (without jitter), honouring its day gate."""
    spec = JOBS[name]
    trigger = spec.trigger(tz, 0)
    when = trigger.get_next_fire_time(None, now)
    for _ in range(400):
        if when is None or spec.gate is None or spec.gate(calendar, when):
            return when
        when = trigger.get_next_fire_time(when, when + timedelta(seconds=1))
    return None
