"""What every job shares: its context, spec, outcome, period keys and the once-per-period claim."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import JobRun
from bot.services.workcal import WorkCalendar
from bot.signing import Signer


@dataclass
class JobContext:
    """What a job gets: the session (committed by the runner), the instant and services."""

    session: Session
    now: datetime
    tz: ZoneInfo
    signer: Signer
    media_dir: Path
    calendar: WorkCalendar
    platforms: frozenset[str] = field(default_factory=frozenset)
    checkpoint_dir: Path | None = None  # BOT_LEDGER_CHECKPOINT_DIR (job ledger_checkpoint)

    @property
    def local_now(self) -> datetime:
        """`now` in the factory's time zone."""
        return self.now.astimezone(self.tz)


@dataclass(frozen=True)
class JobSpec:
    """A named job: what it does, its period key, its schedule and an optional day gate."""

    name: str
    run: Callable[[JobContext], str]
    period: Callable[[datetime, ZoneInfo], str]
    trigger: Callable[[ZoneInfo, int], BaseTrigger]  # (tz, jitter seconds)
    gate: Callable[[WorkCalendar, datetime], bool] | None = None


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """The result of asking for one run."""

    job: str
    period: str
    ran: bool
    result: str


def minute_period(now: datetime, tz: ZoneInfo) -> str:
    """`2026-11-26T10:00` (local)."""
    return now.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def day_period(now: datetime, tz: ZoneInfo) -> str:
    """`2026-11-26` (local)."""
    return now.astimezone(tz).date().isoformat()


def week_period(now: datetime, tz: ZoneInfo) -> str:
    """ISO week of `now`: `2026-W48` for a run on Fri 2026-11-27."""
    year, week, _ = now.astimezone(tz).date().isocalendar()
    return f"{year}-W{week:02d}"


def ranked_week_period(now: datetime, tz: ZoneInfo) -> str:
    """ISO week of the week before `now`'s week: `2026-W47` for a run on Mon 2026-11-23."""
    local = now.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def ranked_month_period(now: datetime, tz: ZoneInfo) -> str:
    """The month before `now`'s: `2026-11` for a run on 2026-12-01."""
    first = now.astimezone(tz).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def claim_period(session: Session, job: str, period: str, now: datetime) -> JobRun | None:
    """Insert JobRun(job, period) in a savepoint; None when that period already ran (or is
    running in another transaction, which this insert waits for)."""
    run = JobRun(job=job, period=period, started_at=now, result="running")
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run
