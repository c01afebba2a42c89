"""The help card by role (签到, 点赞, 面谈, 通知 where the sender may use them) and the 半天调休
vouchers on the 积分 card."""

from __future__ import annotations

import pytest

from bot.models import Redemption, RedemptionState, Reward, RewardKind, Role
from bot.notices.reviews import VOUCHER_LINE
from bot.services.checkins import VOUCHER_SOURCE, grant_leave_voucher
from handlers.help import HR_LINES, SUPERVISOR_LINES
from tests.conftest import START
from tests.factories import make_employee, make_team
from tests.localchat import last_card, say


def _help(client, session, drain, who):
    say(client, who, "帮助")
    drain()
    return last_card(session, who, "绩效积分机器人").lines


@pytest.mark.parametrize(
    ("role", "sees", "not_sees"),
    [
        (Role.WORKER, ("签到", "点赞"), ("面谈", "通知", "待审")),
        (Role.SUPERVISOR, ("签到", "点赞", "待审", "面谈 张伟：团队"), ("通知",)),
        (Role.HR, ("签到", "点赞", "面谈 张伟：任何员工", "通知 周六设备检修"), ()),
    ],
    ids=["worker", "supervisor", "hr"],
)
def test_help_lists_what_the_sender_may_use(client, session, drain, role, sees, not_sees):
    person = make_employee(session, role=role)
    lines = _help(client, session, drain, person)
    for word in sees:
        assert any(line.startswith(word) for line in lines), (word, lines)
    for word in not_sees:
        assert not any(line.startswith(word) for line in lines), (word, lines)


def test_help_for_hr_has_each_line_once(client, session, drain):
    hr = make_employee(session, role=Role.HR)
    lines = _help(client, session, drain, hr)
    assert lines.count(SUPERVISOR_LINES[0]) == 1
    assert all(lines.count(line) == 1 for line in HR_LINES)
    assert SUPERVISOR_LINES[1] not in lines


def _points(client, session, drain, who):
    say(client, who, "积分")
    drain()
    return last_card(session, who, f"{who.name} 的积分").lines


def test_points_card_shows_half_day_vouchers(client, session, drain):
    session.add(Reward(code="L01", title="半天调休", kind=RewardKind.LEAVE, cost=200, stock=None))
    session.commit()
    _boss, (worker,) = make_team(session, workers=1)
    for _ in range(2):
        grant_leave_voucher(session, worker, now=START, note="连续签到 4 周奖励")
    session.commit()
    assert VOUCHER_LINE.format(count=2) in _points(client, session, drain, worker)


def test_points_card_counts_only_check_in_vouchers(client, session, drain):
    reward = Reward(code="L01", title="半天调休", kind=RewardKind.LEAVE, cost=200, stock=None)
    session.add(reward)
    session.commit()
    _boss, (worker,) = make_team(session, workers=1)
    session.add(Redemption(employee_id=worker.id, reward_id=reward.id, cost=200,
                           state=RedemptionState.APPROVED, source="redeem", created_at=START))  # fmt: skip
    session.commit()
    lines = _points(client, session, drain, worker)
    assert not any(line.startswith("🎫") for line in lines)
    assert VOUCHER_SOURCE == "checkin_streak"
