"""点赞 and likes_reminder: thanks without points; supervisors reminded below two a week."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bot.jobs import run_job
from bot.models import LedgerEntry, Like, Role
from bot.notices import reviews as notices
from tests.conftest import TZ
from tests.factories import make_employee, make_team
from tests.localchat import inbox, last, say

FRIDAY_14 = datetime(2026, 11, 27, 14, 0, tzinfo=TZ)


def _job(state, name, at):
    return run_job(state.session_factory, name, at, tz=state.config.tz, signer=state.signer,
                   media_dir=state.config.media_dir)  # fmt: skip


def test_like_tells_the_colleague_and_credits_no_points(client, session, drain):
    _boss, (worker, colleague) = make_team(session, workers=2)
    say(client, worker, f"点赞 {colleague.name} 帮我调好了3号模具")
    drain()
    assert last(session, worker).text == notices.LIKE_SENT.format(name=colleague.name)
    assert last(session, colleague).text == notices.LIKE_RECEIVED.format(
        giver=worker.name, reason="帮我调好了3号模具"
    )
    assert session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_like_to_oneself_is_refused(client, session, drain):
    _boss, (worker,) = make_team(session, workers=1)
    say(client, worker, f"点赞 {worker.employee_no}")
    drain()
    assert last(session, worker).text == notices.LIKE_SELF
    assert session.scalar(select(func.count(Like.id))) == 0


def test_like_to_an_unknown_name_is_refused(client, session, drain):
    _boss, (worker,) = make_team(session, workers=1)
    say(client, worker, "点赞 不存在的人")
    drain()
    assert last(session, worker).text == notices.LIKE_UNKNOWN.format(who="不存在的人")


def test_a_second_like_to_the_same_person_the_same_day_is_refused(client, session, drain):
    _boss, (worker, colleague) = make_team(session, workers=2)
    say(client, worker, f"点赞 {colleague.name}")
    say(client, worker, f"点赞 {colleague.name}")
    drain()
    assert last(session, worker).text == notices.LIKE_TWICE_TODAY.format(name=colleague.name)
    assert session.scalar(select(func.count(Like.id))) == 1


def test_supervisor_sees_team_progress(client, session, drain):
    boss, (worker, _colleague) = make_team(session, workers=2)
    say(client, boss, f"点赞 {worker.employee_no} 首检做得好")
    drain()
    assert notices.LIKE_TEAM_PROGRESS.format(count=1, minimum=2) in last(session, boss).text


def test_reminder_goes_to_supervisors_below_two_and_hr_gets_the_list(
    client, session, drain, state, clock
):
    clock.advance(days=1, hours=4)  # Friday 14:00
    hr = make_employee(session, name="人事", role=Role.HR)
    lazy, _team = make_team(session, workers=2)
    keen, (a, b) = make_team(session, workers=2)
    for who in (a, b):
        say(client, keen, f"点赞 {who.employee_no}")
    drain()
    assert _job(state, "likes_reminder", FRIDAY_14).ran
    drain()
    assert last(session, lazy).text == notices.LIKES_REMINDER.format(count=0, minimum=2)
    assert not any("📌" in getattr(m, "text", "") for m in inbox(session, keen))
    summary = last(session, hr)
    assert summary.title == notices.LIKES_SUMMARY_TITLE.format(week="2026-W48")
    assert any(lazy.name in line and "⚠️" in line for line in summary.lines)


def test_likes_reminder_twice_in_a_week_sends_nothing_new(client, session, drain, state, clock):
    clock.advance(days=1, hours=6)
    lazy, _team = make_team(session, workers=1)
    assert _job(state, "likes_reminder", FRIDAY_14).ran
    drain()
    before = len(inbox(session, lazy))
    assert not _job(state, "likes_reminder", FRIDAY_14.replace(hour=16)).ran
    drain()
    assert len(inbox(session, lazy)) == before == 1
