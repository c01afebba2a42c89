"""`python -m bot scheduler` and `python -m bot jobs list|run` (design §10)."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from datetime import datetime

import click

from bot.cli.support import cli_config


@click.command("scheduler")
def scheduler_command() -> None:
    """The scheduler role: exactly one active (DB lease); others stand by and take over."""
    from bot.app import bot_state, create_app
    from bot.jobs.scheduler import SchedulerService
    from bot.logs import setup_logging

    config = cli_config()
    setup_logging(json_lines=config.is_production)
    state = bot_state(create_app({"CONFIG": config}))
    service = SchedulerService(state)
    stopping = threading.Event()
    # SIGTERM (systemd, docker stop) ends as cleanly as Ctrl+C: the lease is released, so a
    # standby scheduler takes over at its next renewal instead of waiting for the expiry.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    service.start()
    click.echo(f"scheduler {service.holder} running (Ctrl+C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        stopping.wait()
    service.stop()
    click.echo("scheduler stopped; lease released")


@click.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs."""


@jobs_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of NAME<TAB>NEXT_RUN_ISO.")
def jobs_list(as_json: bool) -> None:
    """Each job and its next run (local time, ISO 8601)."""
    from bot.clock import Clock
    from bot.db import make_engine, make_session_factory, session_scope
    from bot.jobs import JOBS, next_run
    from bot.services.workcal import load_calendar

    config = cli_config()
    engine = make_engine(config.database_url)
    now = Clock().now()
    try:
        with session_scope(make_session_factory(engine)) as session:
            calendar = load_calendar(session, config.tz, now.astimezone(config.tz).date())
    finally:
        engine.dispose()
    rows = []
    for name in JOBS:
        when = next_run(name, now, config.tz, calendar)
        rows.append({"name": name, "next_run": when.isoformat() if when else None})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['next_run'] or '-'}")


@jobs_group.command("run")
@click.argument("name")
@click.option("--now", "now_text", help="Run as if at this instant (ISO 8601; local if naive).")
def jobs_run(name: str, now_text: str | None) -> None:
    """Run one job now (or as at --now); a second run of the same period sends nothing new."""
    from bot.clock import Clock, FixedClock
    from bot.db import make_engine, make_session_factory
    from bot.jobs import JOBS, run_job
    from bot.signing import Signer

    config = cli_config()
    if name not in JOBS:
        click.echo(f"error: unknown job {name!r}; one of: {', '.join(JOBS)}", err=True)
        sys.exit(2)
    clock: Clock = Clock()
    if now_text:
        try:
            when = datetime.fromisoformat(now_text)
        except ValueError:
            click.echo(f"error: --now: not an ISO 8601 time: {now_text!r}", err=True)
            sys.exit(2)
        clock = FixedClock(when if when.tzinfo else when.replace(tzinfo=config.tz))
    platforms = frozenset(config.platforms) | (
        frozenset() if config.is_production else frozenset({"local"})
    )
    engine = make_engine(config.database_url)
    try:
        outcome = run_job(
            make_session_factory(engine, ledger_key=config.ledger_key),
            name,
            clock.now(),
            tz=config.tz,
            signer=Signer(config.secret_key),
            media_dir=config.media_dir,
            platforms=platforms,
            checkpoint_dir=config.ledger_checkpoint_dir,
        )
    finally:
        engine.dispose()
    verb = "ran" if outcome.ran else "skipped"
    click.echo(f"{verb} {outcome.job} {outcome.period}: {outcome.result}")


@click.group("calendar")
def calendar_group() -> None:
    """Workdays, holidays and quiet hours (weekends are off unless marked as workdays)."""


def _set_day(day: str, is_workday: bool, note: str | None) -> None:
    from datetime import date

    from bot.cli.support import cli_session
    from bot.services.workcal import set_workday

    try:
        when = date.fromisoformat(day)
    except ValueError:
        click.echo(f"error: not a date (YYYY-MM-DD): {day!r}", err=True)
        sys.exit(2)
    with cli_session() as (session, _clock):
        set_workday(session, when, is_workday, note)
    click.echo(f"{when.isoformat()}\t{'workday' if is_workday else 'holiday'}\t{note or ''}")


@calendar_group.command("holiday")
@click.argument("day")
@click.option("--note", help="e.g. 国庆节")
def calendar_holiday(day: str, note: str | None) -> None:
    """Mark DAY (YYYY-MM-DD) as a day off."""
    _set_day(day, False, note)


@calendar_group.command("workday")
@click.argument("day")
@click.option("--note", help="e.g. 调休上班")
def calendar_workday(day: str, note: str | None) -> None:
    """Mark DAY (YYYY-MM-DD) as a workday (e.g. a make-up Saturday)."""
    _set_day(day, True, note)


@calendar_group.command("quiet-hours")
@click.argument("start")
@click.argument("end", required=False)
def calendar_quiet_hours(start: str, end: str | None) -> None:
    """Set quiet hours, e.g. `21:00 07:30`, or `off`. Urgent alerts always go out."""
    import re

    from bot.cli.support import cli_session
    from bot.services.workcal import set_setting

    if start == "off":
        value: dict[str, str | None] = {"start": None, "end": None}
    else:
        pattern = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
        if end is None or not pattern.match(start) or not pattern.match(end):
            click.echo("error: give START END as HH:MM HH:MM, or `off`", err=True)
            sys.exit(2)
        value = {"start": start, "end": end}
    with cli_session() as (session, _clock):
        set_setting(session, "quiet_hours", value)
    click.echo(f"quiet hours: {value['start'] or 'off'}–{value['end'] or ''}")


@calendar_group.command("list")
def calendar_list() -> None:
    """Show quiet hours and every marked date."""
    from sqlalchemy import select

    from bot.cli.support import cli_session
    from bot.models import CalendarDay
    from bot.services.workcal import DEFAULT_QUIET, get_setting

    with cli_session() as (session, _clock):
        quiet = get_setting(session, "quiet_hours", DEFAULT_QUIET)
        click.echo(f"quiet hours\t{quiet.get('start') or 'off'}\t{quiet.get('end') or ''}")
        for row in session.scalars(select(CalendarDay).order_by(CalendarDay.day)):
            kind = "workday" if row.is_workday else "holiday"
            click.echo(f"{row.day.isoformat()}\t{kind}\t{row.note or ''}")
