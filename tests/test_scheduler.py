"""The scheduler: one active process (DB lease), idempotent runs per period, the jobs CLI."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from bot.db import session_scope
from bot.jobs import JOBS, next_run, ranked_month_period, ranked_week_period, run_job
from bot.jobs.scheduler import TTL, SchedulerService, acquire_lease
from bot.models import JobRun, Outbox
from bot.services.tasks import create_task
from bot.services.workcal import load_calendar
from tests.conftest import SECRET, TZ
from tests.factories import make_team


def _run(state, name, now=None):
    return run_job(
        state.session_factory,
        name,
        now or state.clock.now(),
        tz=state.config.tz,
        signer=state.signer,
        media_dir=state.config.media_dir,
        platforms=frozenset(state.adapters),
    )


def _due_task(state, session, clock):
    boss, (worker,) = make_team(session, workers=1)
    with session_scope(state.session_factory) as s:
        create_task(s, owner=s.get(type(worker), worker.id), title="巡检", now=clock.now(), tz=TZ,
                    due_at=clock.now())  # fmt: skip
    clock.advance(hours=4)
    return worker


def _outbox_count(session):
    session.commit()  # end the read snapshot so rows the jobs committed are visible
    return session.scalar(select(func.count(Outbox.id)))


def test_running_a_job_twice_for_one_period_sends_once(state, session, clock):
    _due_task(state, session, clock)
    first = _run(state, "escalation_tick")
    second = _run(state, "escalation_tick")
    assert first.ran and "notified=2" in first.result
    assert not second.ran and second.period == first.period
    assert _outbox_count(session) == 2
    assert session.scalar(select(func.count(JobRun.id))) == 1


def test_only_the_lease_holder_runs_jobs(state, session, clock):
    _due_task(state, session, clock)
    a, b = SchedulerService(state, holder="a"), SchedulerService(state, holder="b")
    assert a.renew() is True
    assert b.renew() is False
    assert b.fire("escalation_tick") is None
    assert a.fire("escalation_tick").ran
    assert _outbox_count(session) == 2


def test_two_leaders_racing_on_one_period_still_send_once(state, session, clock):
    # Even if both believed they held the lease, JobRun(job, period) admits one run.
    _due_task(state, session, clock)
    a, b = SchedulerService(state, holder="a"), SchedulerService(state, holder="b")
    a.is_leader = b.is_leader = True
    outcomes = [a.fire("weekly_leaderboard"), b.fire("weekly_leaderboard")]
    assert [o.ran for o in outcomes] == [True, False]


def test_standby_takes_over_within_a_minute_when_the_leader_dies(state, clock):
    a, b = SchedulerService(state, holder="a"), SchedulerService(state, holder="b")
    assert a.renew()
    clock.advance(seconds=20)
    assert a.renew() and not b.renew()
    # a dies: no more renewals. b checks every 20 s and wins once the lease has expired.
    for _ in range(3):
        clock.advance(seconds=20)
        if b.renew():
            break
    assert b.is_leader
    assert TTL.total_seconds() + 20 <= 60
    assert not a.renew()


def test_clean_shutdown_hands_over_at_once(state):
    a, b = SchedulerService(state, holder="a"), SchedulerService(state, holder="b")
    assert a.renew()
    a.stop()
    assert b.renew()


def test_lease_is_renewed_by_its_holder(state, clock):
    with session_scope(state.session_factory) as s:
        assert acquire_lease(s, "a", clock.now())
    clock.advance(seconds=30)
    with session_scope(state.session_factory) as s:
        assert acquire_lease(s, "a", clock.now())
    clock.advance(seconds=30)
    with session_scope(state.session_factory) as s:
        assert not acquire_lease(s, "b", clock.now())


def test_period_keys():
    monday = datetime(2026, 11, 30, 9, 3, tzinfo=TZ)
    assert ranked_week_period(monday, TZ) == "2026-W48"
    assert ranked_month_period(datetime(2026, 12, 1, 9, 30, tzinfo=TZ), TZ) == "2026-11"
    assert ranked_month_period(datetime(2027, 1, 4, 9, 30, tzinfo=TZ), TZ) == "2026-12"


def test_next_runs_follow_the_schedule(state, session):
    now = datetime(2026, 11, 26, 10, 0, 30, tzinfo=TZ)  # Thursday
    cal = load_calendar(session, TZ)
    assert next_run("daily_tasks", now, TZ, cal) == datetime(2026, 11, 27, 8, 57, tzinfo=TZ)
    assert next_run("weekly_leaderboard", now, TZ, cal) == datetime(2026, 11, 30, 9, 3, tzinfo=TZ)
    assert next_run("monthly_star", now, TZ, cal) == datetime(2026, 12, 1, 9, 33, tzinfo=TZ)
    assert next_run("escalation_tick", now, TZ, cal) == datetime(2026, 11, 26, 10, 1, tzinfo=TZ)
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
    assert next_run("daily_tasks", friday, TZ, cal) == datetime(2026, 11, 30, 8, 57, tzinfo=TZ)


@pytest.fixture
def cli_env(state, tmp_path):
    return {
        "DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
        "BOT_SECRET_KEY": SECRET,
        "BOT_MEDIA_DIR": str(tmp_path / "media"),
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_ENV": "test",
    }


def test_jobs_list_prints_name_tab_next_run(cli_env):
    result = CliRunner().invoke(cli, ["jobs", "list"], env=cli_env)
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [name for name, _ in lines] == list(JOBS)
    assert all(datetime.fromisoformat(when).tzinfo for _, when in lines)


def test_jobs_list_json(cli_env):
    result = CliRunner().invoke(cli, ["jobs", "list", "--json"], env=cli_env)
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} == set(JOBS) and all(r["next_run"] for r in rows)


def test_jobs_run_with_now_is_idempotent(cli_env, state, session, clock):
    _due_task(state, session, clock)
    args = ["jobs", "run", "escalation_tick", "--now", "2026-11-26T14:00:00+08:00"]
    first = CliRunner().invoke(cli, args, env=cli_env)
    second = CliRunner().invoke(cli, args, env=cli_env)
    assert first.exit_code == 0 and first.output.startswith("ran escalation_tick")
    assert second.output.startswith("skipped escalation_tick 2026-11-26T14:00")
    assert _outbox_count(session) == 2


def test_jobs_run_unknown_name_fails_clearly(cli_env):
    result = CliRunner().invoke(cli, ["jobs", "run", "nope"], env=cli_env)
    assert result.exit_code == 2 and "unknown job 'nope'" in result.output


def test_models_match_migrations(state):
    """`alembic check`: the scheduler tables in bot/models.py are exactly what 0002 creates."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.models import Base

    with state.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_migration_seeds_the_default_policies_and_quiet_hours(session):
    from bot.models import EscalationPolicy, SchedulerLease, Setting

    policies = {p.name: p.steps for p in session.scalars(select(EscalationPolicy))}
    assert policies["overdue"] == [
        {"wait_minutes": 240, "notify": "owner+supervisor"},
        {"wait_minutes": 1440, "notify": "next_level"},
    ]
    assert [s["wait_minutes"] for s in policies["stale"]] == [7 * 24 * 60, 48 * 60]
    assert policies["unclaimed"] == [{"wait_minutes": 120, "notify": "owner"}]
    assert session.get(Setting, "quiet_hours").value == {"start": "21:00", "end": "07:30"}
    assert session.get(SchedulerLease, 1).holder == ""


def test_two_schedulers_racing_in_threads_send_once(state, session, clock):
    """Both start the same period at the same moment; the JobRun insert lets one through."""
    import threading

    _due_task(state, session, clock)
    barrier = threading.Barrier(2, timeout=30)
    outcomes = []

    def race():
        barrier.wait()
        outcomes.append(_run(state, "escalation_tick"))

    threads = [threading.Thread(target=race) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(o.ran for o in outcomes) == [False, True]
    assert _outbox_count(session) == 2


def test_calendar_cli_marks_holidays_and_quiet_hours(cli_env, session):
    from bot.models import CalendarDay, Setting

    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["calendar", "holiday", "2026-10-01", "--note", "国庆节"], env=cli_env
        ).exit_code
        == 0
    )
    assert runner.invoke(cli, ["calendar", "workday", "2026-10-10"], env=cli_env).exit_code == 0
    assert (
        runner.invoke(cli, ["calendar", "quiet-hours", "22:00", "07:00"], env=cli_env).exit_code
        == 0
    )
    assert runner.invoke(cli, ["calendar", "quiet-hours", "25:00"], env=cli_env).exit_code == 2
    listing = runner.invoke(cli, ["calendar", "list"], env=cli_env).output.splitlines()
    assert listing == [
        "quiet hours\t22:00\t07:00",
        "2026-10-01\tholiday\t国庆节",
        "2026-10-10\tworkday\t",
    ]
    cal = load_calendar(session, TZ)
    assert not cal.is_workday(datetime(2026, 10, 1).date())
    assert cal.is_workday(datetime(2026, 10, 10).date())  # a Saturday
    assert session.get(Setting, "quiet_hours").value == {"start": "22:00", "end": "07:00"}
    assert session.get(CalendarDay, datetime(2026, 10, 1).date()).note == "国庆节"
