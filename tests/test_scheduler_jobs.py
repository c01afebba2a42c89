"""The scheduled jobs with a fixed clock: weekly TOP5, daily tasks, monthly star, approvals."""

from __future__ import annotations

from datetime import datetime

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot import asks
from bot.db import session_scope
from bot.jobs import run_job
from bot.jobs.daily import RULES_HEADER, TASKS_HEADER
from bot.models import (
    Ask,
    Campaign,
    Claim,
    ClaimState,
    DepartmentChat,
    Employee,
    JobRun,
    Outbox,
    Role,
    StarAward,
)
from bot.notices.images import cjk_font_path, font
from bot.services.claims import ClaimContext, submit_claim
from bot.services.images import media_path
from bot.services.ledger import append_entry
from bot.services.tasks import create_task
from bot.services.workcal import set_workday
from cards import Card, Text, message_from_dict
from handlers.broadcast import ALREADY_BROADCAST, BROADCAST_DONE, NOTHING_TO_BROADCAST, ONLY_HR
from tests.conftest import TZ
from tests.factories import make_claim, make_department, make_employee, make_team, rule
from tests.localchat import inbox, last, say

MONDAY = datetime(2026, 11, 30, 9, 3, tzinfo=TZ)
LAST_WEEK = datetime(2026, 11, 25, 15, 0, tzinfo=TZ)
WEEK_BEFORE = datetime(2026, 11, 18, 15, 0, tzinfo=TZ)


def _run(state, name, now):
    return run_job(
        state.session_factory,
        name,
        now,
        tz=state.config.tz,
        signer=state.signer,
        media_dir=state.config.media_dir,
        platforms=frozenset(state.adapters),
    )


def _credit(session, employee, points, when, category="质量"):
    append_entry(session, employee, points, kind="claim", memo="测试", now=when, category=category)
    session.commit()


def _outbox(session):
    session.commit()  # end the read snapshot so rows the jobs committed are visible
    return list(session.scalars(select(Outbox).order_by(Outbox.id)))


# -- weekly leaderboard ----------------------------------------------------------------------------


def _scored_team(session, n=6):
    boss, team = make_team(session, workers=n)
    for i, person in enumerate(team):
        _credit(session, person, 10 * (i + 1), LAST_WEEK)
    _credit(session, team[0], 100, WEEK_BEFORE)  # was first the week before
    _credit(session, team[5], 5, WEEK_BEFORE)
    return boss, team


def test_weekly_leaderboard_sends_top5_with_image_to_each_member(state, session, clock, drain):
    boss, team = _scored_team(session)
    clock.set(MONDAY)
    outcome = _run(state, "weekly_leaderboard", MONDAY)
    assert outcome.ran and outcome.period == "2026-W48"
    drain()
    card = inbox(session, team[0])[-1]
    assert isinstance(card, Card) and card.title.startswith("🏆")
    assert card.lines[1:] == (
        f"🥇 {team[5].name} 60 分 ↑1",
        f"🥈 {team[4].name} 50 分 新",
        f"🥉 {team[3].name} 40 分 新",
        f"4. {team[2].name} 30 分 新",
        f"5. {team[1].name} 20 分 新",
    )
    assert card.image.startswith("media:leaderboard/2026-W48/")
    path = media_path(state.config.media_dir, card.image)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width == 720
    assert len(inbox(session, boss)) == 1


def test_weekly_leaderboard_twice_sends_once(state, session):
    _scored_team(session)
    _run(state, "weekly_leaderboard", MONDAY)
    count = len(_outbox(session))
    assert not _run(state, "weekly_leaderboard", MONDAY.replace(hour=11)).ran
    assert len(_outbox(session)) == count == 7


def test_weekly_leaderboard_goes_to_the_department_chat_when_configured(state, session):
    _, team = _scored_team(session)
    dept = team[0].department
    dept.chats.append(DepartmentChat(platform="wecom", chat_id="wrCHAT1"))
    session.commit()
    run_job(
        state.session_factory, "weekly_leaderboard", MONDAY, tz=TZ, signer=state.signer,
        media_dir=state.config.media_dir, platforms=frozenset({"local", "wecom"}),
    )  # fmt: skip
    rows = _outbox(session)
    assert [(r.platform, r.target) for r in rows] == [("wecom", {"chat_id": "wrCHAT1"})]


def test_weekly_leaderboard_skips_departments_without_points(state, session):
    make_team(session, workers=3)
    assert _run(state, "weekly_leaderboard", MONDAY).result == "departments=0 messages=0"
    assert _outbox(session) == []


def test_hr_broadcasts_from_chat_once(client, state, session, clock, drain):
    _scored_team(session)
    hr = make_employee(session, name="周敏", role=Role.HR, department=make_department(session))
    clock.set(MONDAY.replace(hour=8))
    say(client, hr, "排行 广播")
    drain()
    assert last(session, hr) == Text(
        BROADCAST_DONE.format(week="11/23–11/29", boards=1, messages=7)
    )
    say(client, hr, "排行 广播")
    drain()
    assert last(session, hr) == Text(
        ALREADY_BROADCAST.format(week="11/23–11/29", when="11-30 08:03")
    )
    assert not _run(state, "weekly_leaderboard", MONDAY).ran


def test_broadcast_of_a_week_nobody_scored_records_nothing_and_says_so_again(
    client, state, session, clock, drain
):
    make_team(session, workers=2)
    hr = make_employee(session, name="周敏", role=Role.HR, department=make_department(session))
    clock.set(MONDAY.replace(hour=8))
    for _ in range(2):
        say(client, hr, "排行 广播")
        drain()
        assert last(session, hr) == Text(NOTHING_TO_BROADCAST.format(week="11/23–11/29"))
    assert {r.recipient_id for r in _outbox(session)} == {hr.id}  # only the two answers
    assert (
        session.scalar(select(func.count(JobRun.id)).where(JobRun.job == "weekly_leaderboard")) == 0
    )


def test_broadcast_texts_name_the_dates_not_the_iso_week():
    for text in (BROADCAST_DONE, ALREADY_BROADCAST, NOTHING_TO_BROADCAST):
        assert "W" not in text.format(week="11/23–11/29", boards=1, messages=1, when="-")


def test_equal_points_share_a_rank_on_the_weekly_board(state, session, clock):
    boss, team = make_team(session, workers=3)
    for person, points in zip(team, (20, 20, 5), strict=True):
        _credit(session, person, points, LAST_WEEK)
    clock.set(MONDAY)
    _run(state, "weekly_leaderboard", MONDAY)
    card = message_from_dict(_outbox(session)[0].payload)
    assert [line.split()[0] for line in card.lines[1:]] == ["🥇", "🥇", "🥉"]
    assert [line.split()[4] for line in card.lines[1:3]] == ["并列", "并列"]
    assert "并列" not in card.lines[3]


def test_worker_cannot_broadcast(client, session, clock, drain):
    _, team = _scored_team(session)
    say(client, team[0], "排行 广播")
    drain()
    assert last(session, team[0]) == Text(ONLY_HR)


# -- CJK rendering ---------------------------------------------------------------------------------


def test_a_cjk_font_is_installed_and_renders_chinese():
    assert cjk_font_path() is not None, "pip install -r requirements.txt (paperang-p2-fonts-cjk)"
    f = font(48)
    masks = {ch: f.getmask(ch) for ch in "一口改善"}
    boxes = {ch: m.getbbox() for ch, m in masks.items()}
    # Real glyphs differ: a flat stroke, a box, and two dense characters. Tofu would be one box.
    assert boxes["一"][3] - boxes["一"][1] < 10 < boxes["口"][3] - boxes["口"][1]
    assert bytes(masks["改"]) != bytes(masks["善"])
    tofu = f.getmask("\U000f0000").getbbox()  # a private-use code point: no glyph
    assert boxes["改"] != tofu


@pytest.mark.parametrize("ch", ["星", "排"])
def test_cjk_glyph_has_ink(ch):
    mask = font(48).getmask(ch)
    assert sum(1 for v in bytes(mask) if v > 128) > 50


# -- daily tasks -----------------------------------------------------------------------------------

THURSDAY_0857 = datetime(2026, 11, 26, 8, 57, tzinfo=TZ)


def test_daily_tasks_tell_each_worker_what_they_can_earn_today(state, session):
    boss, (worker, other) = make_team(session, workers=2)
    for code in ("A04", "A04", "B02"):
        make_claim(session, employee=other, code=code, state=ClaimState.APPROVED,
                   created_at=datetime(2026, 11, 20, 9, 0, tzinfo=TZ))  # fmt: skip
    session.add(
        Campaign(name="推广期", bonus_points=2, starts_at=datetime(2026, 11, 1, tzinfo=TZ),
                 ends_at=datetime(2026, 12, 31, tzinfo=TZ))
    )  # fmt: skip
    session.commit()
    with session_scope(state.session_factory) as s:
        create_task(s, owner=s.get(Employee, worker.id), title="更换 3 号模具", now=THURSDAY_0857,
                    tz=TZ, due_at=datetime(2026, 11, 26, 16, 0, tzinfo=TZ))  # fmt: skip
    outcome = _run(state, "daily_tasks", THURSDAY_0857)
    assert outcome.ran and outcome.period == "2026-11-26"
    rows = {r.recipient_id: r.payload for r in _outbox(session)}
    assert set(rows) == {worker.id, other.id}  # workers only, not the supervisor
    lines = rows[worker.id]["lines"]
    # The rule's points are what a claim earns today, the campaign's bonus named.
    assert lines[:3] == [
        RULES_HEADER,
        "· A04 按时完成首检并上传影像 +7（含推广期 +2）",
        "· B02 完成工位5S点检 +7（含推广期 +2）",
    ]
    assert [b[0] for b in rows[worker.id]["buttons"]] == ["💡 建议"]
    assert "· 推广期：每次申领 +2（至 12-31 00:00）" in lines
    assert lines[-2:] == [TASKS_HEADER, "· 更换 3 号模具（截止 11-26 16:00）"]


def test_daily_tasks_say_nothing_when_there_is_nothing_to_say(state, session):
    make_team(session, workers=2)
    assert _run(state, "daily_tasks", THURSDAY_0857).result == "sent=0 nothing_to_say=2"
    assert _outbox(session) == []
    assert not _run(state, "daily_tasks", THURSDAY_0857.replace(hour=10)).ran


def test_daily_tasks_are_not_scheduled_on_weekends_or_holidays(state, session):
    with session_scope(state.session_factory) as s:
        set_workday(s, datetime(2026, 11, 27).date(), False, "厂休")
    saturday = datetime(2026, 11, 28, 8, 57, tzinfo=TZ)
    holiday = datetime(2026, 11, 27, 8, 57, tzinfo=TZ)
    for when in (saturday, holiday):
        outcome = run_job(state.session_factory, "daily_tasks", when, tz=TZ, signer=state.signer,
                          media_dir=state.config.media_dir, scheduled=True)  # fmt: skip
        assert not outcome.ran and outcome.result == "not scheduled today"


# -- monthly star ----------------------------------------------------------------------------------

DEC_1 = datetime(2026, 12, 1, 9, 30, tzinfo=TZ)


def test_monthly_star_awards_top_improvers_with_documented_tie_breaks(state, session, clock, drain):
    boss, (a, b, c, d) = make_team(session, workers=4)
    nov = lambda day, hour=10: datetime(2026, 11, day, hour, tzinfo=TZ)  # noqa: E731
    _credit(session, a, 15, nov(3), "改善")
    _credit(session, b, 10, nov(4), "改善")
    _credit(session, b, 5, nov(5), "改善")  # 15 in two entries: beats a
    _credit(session, c, 15, nov(2), "改善")  # 15 in one entry, reached earlier than a
    _credit(session, d, 40, nov(6), "质量")  # not improvement
    _credit(session, d, 30, datetime(2026, 10, 30, 10, tzinfo=TZ), "改善")  # October
    outcome = _run(state, "monthly_star", DEC_1)
    assert outcome.ran and outcome.period == "2026-11"
    awards = session.scalars(select(StarAward).order_by(StarAward.rank)).all()
    assert [(w.employee_id, w.points, w.rank) for w in awards] == [
        (b.id, 15, 1), (c.id, 15, 2), (a.id, 15, 3)
    ]  # fmt: skip
    clock.set(DEC_1)
    drain()
    card = inbox(session, d)[-1]
    assert card.title == "🌟 2026年11月 改善之星"
    assert card.fields[0].value.startswith(b.name)
    assert media_path(state.config.media_dir, card.image) is not None
    assert not _run(state, "monthly_star", DEC_1.replace(day=2)).ran


def test_monthly_star_only_on_the_first_workday(state):
    first_is_tuesday = datetime(2026, 12, 1, 9, 30, tzinfo=TZ)
    second = datetime(2026, 12, 2, 9, 30, tzinfo=TZ)
    kw = dict(tz=TZ, signer=state.signer, media_dir=state.config.media_dir, scheduled=True)
    assert not run_job(state.session_factory, "monthly_star", second, **kw).ran
    assert run_job(state.session_factory, "monthly_star", first_is_tuesday, **kw).ran


def test_monthly_star_with_no_improvement_points_sends_nothing(state, session):
    make_team(session, workers=2)
    assert _run(state, "monthly_star", DEC_1).result == "month=2026-11 awards=0 messages=0"
    assert _outbox(session) == []


# -- approval reminders ----------------------------------------------------------------------------


def _waiting_claim(state, session):
    """A claim submitted at 09:00 to a supervisor who has a manager."""
    boss, (worker,) = make_team(session, workers=1)
    manager = make_employee(session, name="陈经理", role=Role.SUPERVISOR)
    boss.supervisor = manager
    session.commit()
    at = datetime(2026, 11, 26, 9, 0, tzinfo=TZ)
    with session_scope(state.session_factory) as s:
        claim = submit_claim(
            s, s.get(Employee, worker.id), rule(s, "A02"), ClaimContext(at, TZ, state.signer)
        )
        claim_id = claim.id
    return manager, boss, worker, claim_id


def _reminders(session, who):
    return [
        r for r in _outbox(session)
        if r.recipient_id == who.id and r.payload.get("title", "").startswith("⏰")
    ]  # fmt: skip


def test_pending_claim_reminds_the_approver_once_then_copies_their_supervisor(state, session):
    manager, boss, _, claim_id = _waiting_claim(state, session)
    early = _run(state, "approval_reminders", datetime(2026, 11, 26, 12, 50, tzinfo=TZ))
    assert "notified=0" in early.result
    due = _run(state, "approval_reminders", datetime(2026, 11, 26, 13, 0, tzinfo=TZ))
    assert "notified=1" in due.result
    again = _run(state, "approval_reminders", datetime(2026, 11, 26, 13, 10, tzinfo=TZ))
    assert "notified=0" in again.result
    [reminder] = _reminders(session, boss)
    assert reminder.payload["title"].startswith(f"⏰ 审批提醒：审核申领 #{claim_id}")
    assert _reminders(session, manager) == []
    later = _run(state, "approval_reminders", datetime(2026, 11, 27, 13, 0, tzinfo=TZ))
    assert "notified=2" in later.result, later
    assert len(_reminders(session, boss)) == 2 and len(_reminders(session, manager)) == 1


def test_decided_claim_stops_its_reminders(state, session):
    manager, boss, _, claim_id = _waiting_claim(state, session)
    _run(state, "approval_reminders", datetime(2026, 11, 26, 13, 0, tzinfo=TZ))
    with session_scope(state.session_factory) as s:
        ask = s.scalars(select(Ask)).one()
        asks.press(s, ask.id, s.get(Employee, boss.id), "approve", now=datetime(2026, 11, 26, 14, 0,
                   tzinfo=TZ), tz=TZ, signer=state.signer)  # fmt: skip
    result = _run(state, "approval_reminders", datetime(2026, 11, 27, 13, 0, tzinfo=TZ)).result
    assert "due=0" in result and "notified=0" in result
    assert _reminders(session, manager) == []
    assert session.get(Claim, claim_id).state == ClaimState.APPROVED


def test_leaderboard_image_is_served_to_the_local_chat(state, session, clock, drain, client):
    _boss, team = _scored_team(session)
    clock.set(MONDAY)
    _run(state, "weekly_leaderboard", MONDAY)
    drain()
    messages = client.get(f"/local/api/messages?employee={team[0].employee_no}").json
    src = messages[-1]["html"].split('src="', 1)[1].split('"', 1)[0]
    assert src.startswith("/local/files/leaderboard/2026-W48/")
    image = client.get(src)
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert client.get("/local/files/../secret_key").status_code == 404


def test_delivery_loads_generated_images_for_upload(state, session, clock):
    _scored_team(session)
    clock.set(MONDAY)
    _run(state, "weekly_leaderboard", MONDAY)
    from bot.services.images import MEDIA_PREFIX

    media_dir = state.config.media_dir
    png = next(media_dir.glob("leaderboard/**/*.png"))
    payload = state.worker.delivery.media_loader(MEDIA_PREFIX + str(png.relative_to(media_dir)))
    assert payload is not None and payload.mime_type == "image/png"
    assert payload.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert state.worker.delivery.media_loader("media:../../etc/passwd") is None
