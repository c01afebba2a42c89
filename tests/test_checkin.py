"""Weekly check-ins: the Friday job, 签到 on demand, streaks and the 半天调休 voucher."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.jobs import run_job
from bot.models import Checkin, ClaimState, Redemption, Reward, RewardKind
from bot.notices import reviews as notices
from tests.conftest import TZ
from tests.factories import make_claim, make_team, photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo

FRIDAY = datetime(2026, 11, 27, 15, 30, tzinfo=TZ)


def _job(state, at):
    return run_job(state.session_factory, "weekly_checkin", at, tz=state.config.tz,
                   signer=state.signer, media_dir=state.config.media_dir)  # fmt: skip


def _leave_reward(session):
    reward = Reward(code="L01", title="半天调休", kind=RewardKind.LEAVE, cost=200, stock=None)
    session.add(reward)
    session.commit()
    return reward


def test_friday_job_lists_the_weeks_approved_claims(client, session, drain, state, clock):
    clock.advance(days=1, hours=5, minutes=30)
    _boss, (worker,) = make_team(session, workers=1)
    claim = make_claim(session, employee=worker, code="A01", state=ClaimState.APPROVED)
    claim.decided_at, claim.points_credited = FRIDAY - timedelta(days=1), 20
    session.commit()
    assert _job(state, FRIDAY).ran
    drain()
    card = last_card(session, worker, "本周签到")
    assert card.lines[0] == notices.CHECKIN_INTRO.format(count=1)
    assert card.lines[1].startswith("✔ A01") and card.lines[1].endswith("+20")
    assert [b.label for b in card.buttons] == [notices.CONFIRM_LABEL]


def test_weekly_checkin_twice_in_a_week_sends_nothing_new(client, session, drain, state, clock):
    clock.advance(days=1, hours=7)
    _boss, (worker,) = make_team(session, workers=1)
    _job(state, FRIDAY)
    drain()
    assert not _job(state, FRIDAY + timedelta(hours=1)).ran
    drain()
    assert len(inbox(session, worker)) == 1


def test_checkin_on_demand_confirms_and_counts_the_streak(client, session, drain):
    _boss, (worker,) = make_team(session, workers=1)
    say(client, worker, "签到")
    drain()
    press(client, worker, button(last_card(session, worker, "本周签到"), notices.CONFIRM_LABEL))
    drain()
    assert last(session, worker).text.startswith(
        notices.CHECKED_IN.format(week="2026-W48", streak=1)
    )
    say(client, worker, "签到")
    drain()
    assert last(session, worker).text.startswith("本周签到已完成")


def test_a_photo_within_ten_minutes_is_attached(client, session, drain, clock):
    _boss, (worker,) = make_team(session, workers=1)
    say(client, worker, "签到")
    drain()
    press(client, worker, button(last_card(session, worker, "本周签到"), notices.CONFIRM_LABEL))
    drain()
    clock.advance(minutes=5)
    send_photo(client, worker, photo_bytes(3))
    drain()
    assert last(session, worker).text == notices.PHOTO_ATTACHED.format(week="2026-W48")
    assert session.scalars(select(Checkin)).one().evidence_id is not None


def test_four_weeks_in_a_row_grant_a_zero_cost_leave_voucher(client, session, drain, clock):
    reward = _leave_reward(session)
    _boss, (worker,) = make_team(session, workers=1)
    for week in range(4):
        say(client, worker, "签到")
        drain()
        press(client, worker, button(last_card(session, worker, "本周签到"), notices.CONFIRM_LABEL))
        drain()
        if week < 3:
            clock.advance(days=7)
    assert notices.VOUCHER_GRANTED.format(streak=4, reward="半天调休") in last(session, worker).text
    voucher = session.scalars(select(Redemption)).one()
    assert (voucher.cost, voucher.state, voucher.source) == (0, "approved", "checkin_streak")
    assert voucher.reward_id == reward.id and voucher.employee_id == worker.id


def test_a_missed_week_restarts_the_streak(client, session, drain, clock):
    _leave_reward(session)
    _boss, (worker,) = make_team(session, workers=1)
    for gap in (7, 14, 7, 7):
        say(client, worker, "签到")
        drain()
        press(client, worker, button(last_card(session, worker, "本周签到"), notices.CONFIRM_LABEL))
        drain()
        clock.advance(days=gap)
    assert session.scalar(select(func.count(Redemption.id))) == 0
    streaks = [c.streak for c in session.scalars(select(Checkin).order_by(Checkin.id))]
    assert streaks == [1, 2, 1, 2]
