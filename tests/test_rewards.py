"""Rewards and redemption (design §15): holds, HR's 批准 / 拒绝, ledger debits, stock, the CSV,
and taps racing in two worker processes."""

from __future__ import annotations

import multiprocessing

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from bot.models import (
    InboundEvent,
    LedgerEntry,
    Redemption,
    RedemptionState,
    Reward,
    RewardKind,
    Role,
)
from bot.notices import rewards as texts
from bot.services.ledger import append_entry, balance
from bot.services.rewards import wallet
from tests.conftest import SECRET
from tests.factories import make_employee, make_team
from tests.localchat import button, last, last_card, press, say


def _reward(session, code="R01", title="定制保温杯", cost=100, stock=None, kind=RewardKind.GOODS):
    reward = Reward(code=code, title=title, kind=kind, cost=cost, stock=stock, active=True)
    session.add(reward)
    session.commit()
    return reward


def _give(session, person, points, clock):
    append_entry(session, person, points, kind="adjust", memo="test", now=clock.now())
    session.commit()


@pytest.fixture
def people(session, clock):
    """An HR person and a worker with 250 points."""
    hr = make_employee(session, name="周敏", role=Role.HR)
    _boss, (worker, _) = make_team(session)
    _give(session, worker, 250, clock)
    return hr, worker


def test_redeem_lists_rewards_with_available_points_and_buttons(client, session, drain, people):
    _hr, worker = people
    _reward(session, "R01", "定制保温杯", 100, stock=5)
    _reward(session, "R03", "购物卡", 500, stock=20)
    say(client, worker, "兑换")
    drain()
    card = last_card(session, worker, texts.LIST_TITLE)
    assert {f.label: f.value for f in card.fields} == {
        "余额": "250 分",
        "冻结": "0 分",
        "可用": "250 分",
    }
    assert card.lines[0] == "R01 定制保温杯（实物）· 100 分 · 剩 5 件"
    assert card.lines[1].endswith(f"（{texts.TOO_DEAR}）")
    assert [b.label for b in card.buttons] == ["R01 定制保温杯 100分"]


def test_tap_holds_the_cost_and_asks_hr(client, session, drain, people):
    hr, worker = people
    _reward(session, stock=5)
    say(client, worker, "兑换")
    drain()
    press(client, worker, button(last_card(session, worker, texts.LIST_TITLE), "R01"))
    drain()
    redemption = session.scalars(select(Redemption)).one()
    assert redemption.state == RedemptionState.PENDING and redemption.cost == 100
    assert wallet(session, worker.id).available == 150 and balance(session, worker.id) == 250
    assert last(session, worker).text.startswith("⏳ 已申请兑换 R01 定制保温杯（-100 分）")
    card = last_card(session, hr, "兑换申请")
    assert [b.label for b in card.buttons] == ["批准", "拒绝"]
    assert {f.label: f.value for f in card.fields}["积分"] == "-100 分"


def test_hr_approval_debits_the_ledger_and_takes_stock(client, session, drain, people):
    hr, worker = people
    reward = _reward(session, stock=5)
    say(client, worker, "兑换 r01")
    drain()
    press(client, hr, button(last_card(session, hr, "兑换申请"), "批准"))
    drain()
    session.refresh(reward)
    redemption = session.scalars(select(Redemption)).one()
    assert redemption.state == RedemptionState.APPROVED and reward.stock == 4
    entry = session.get(LedgerEntry, redemption.ledger_entry_id)
    assert (entry.points, entry.kind) == (-100, "redemption")
    assert balance(session, worker.id) == 150 and wallet(session, worker.id).held == 0
    assert last(session, worker).text == texts.APPROVED.format(
        name="定制保温杯", cost=100, balance=150, hint=texts.KIND_HINTS[RewardKind.GOODS]
    )
    assert last_card(session, hr, "兑换申请").status.startswith("已批准 · 周敏")


def test_hr_rejection_with_a_reason_releases_the_hold(client, session, drain, people):
    hr, worker = people
    reward = _reward(session, stock=5)
    say(client, worker, "兑换 R01")
    drain()
    press(client, hr, button(last_card(session, hr, "兑换申请"), "拒绝"))
    drain()
    say(client, hr, "本月礼品已发完")
    drain()
    session.refresh(reward)
    assert reward.stock == 5 and wallet(session, worker.id).available == 250
    assert session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.points < 0)) == 0
    assert last(session, worker).text == texts.REJECTED.format(
        name="定制保温杯", reason="本月礼品已发完", cost=100
    )


def test_request_beyond_available_points_is_refused(client, session, drain, people):
    _hr, worker = people
    _reward(session, "R01", cost=200)
    _reward(session, "R02", "另一件", cost=100)
    say(client, worker, "兑换 R01")
    say(client, worker, "兑换 R02")
    drain()
    assert last(session, worker).text == texts.NOT_ENOUGH.format(
        name="另一件", cost=100, available=50, balance=250, held=200
    )
    assert session.scalar(select(func.count(Redemption.id))) == 1


def test_stock_held_by_pending_requests_is_not_offered_again(client, session, drain, people):
    _hr, worker = people
    other = make_employee(session, supervisor=worker.supervisor)
    _give(
        session, other, 300, clock=type("C", (), {"now": staticmethod(lambda: worker.created_at)})
    )
    _reward(session, stock=1)
    say(client, worker, "兑换 R01")
    say(client, other, "兑换 R01")
    drain()
    assert last(session, other).text == texts.OUT_OF_STOCK.format(name="定制保温杯")


def test_a_second_request_for_the_same_reward_waits_for_the_first(client, session, drain, people):
    _hr, worker = people
    _reward(session)
    say(client, worker, "兑换 R01")
    say(client, worker, "兑换 R01")
    drain()
    assert last(session, worker).text == texts.ALREADY_PENDING.format(name="定制保温杯")
    assert session.scalar(select(func.count(Redemption.id))) == 1


def test_a_worker_cannot_approve_a_redemption(client, session, drain, people):
    hr, worker = people
    _reward(session)
    say(client, worker, "兑换 R01")
    drain()
    press(client, worker, button(last_card(session, hr, "兑换申请"), "批准"))
    drain()
    assert last(session, worker).text.startswith("这个按钮不是发给你的")
    assert session.scalars(select(Redemption)).one().state == RedemptionState.PENDING


def test_a_changed_price_refuses_an_old_button(client, session, drain, people):
    _hr, worker = people
    reward = _reward(session)
    say(client, worker, "兑换")
    drain()
    old = button(last_card(session, worker, texts.LIST_TITLE), "R01")
    reward.cost = 120
    session.commit()
    press(client, worker, old)
    drain()
    assert last(session, worker).text == texts.PRICE_CHANGED.format(name="定制保温杯", cost=120)


def test_approval_is_refused_when_a_correction_left_too_little(
    client, session, drain, people, clock
):
    hr, worker = people
    _reward(session, cost=200)
    say(client, worker, "兑换 R01")
    drain()
    _give(session, worker, -100, clock)  # a reversal since the request
    press(client, hr, button(last_card(session, hr, "兑换申请"), "批准"))
    drain()
    assert last(session, hr).text.startswith(f"{worker.name} 的余额不足以兑换")
    assert session.scalars(select(Redemption)).one().state == RedemptionState.PENDING


def test_leave_and_priority_rewards_say_what_happens_next(client, session, drain, people):
    hr, worker = people
    _reward(session, "R02", "调休半天", 100, kind=RewardKind.LEAVE)
    say(client, worker, "兑换 R02")
    drain()
    press(client, hr, button(last_card(session, hr, "兑换申请"), "批准"))
    drain()
    assert last(session, worker).text.endswith(texts.KIND_HINTS[RewardKind.LEAVE])


def test_points_card_shows_held_and_available(client, session, drain, people):
    _hr, worker = people
    _reward(session)
    say(client, worker, "兑换 R01")
    say(client, worker, "积分")
    drain()
    card = last_card(session, worker, f"{worker.name} 的积分")
    fields = {f.label: f.value for f in card.fields}
    assert fields["冻结"] == "100 分（兑换审批中）" and fields["可用"] == "150 分"


def test_nobody_to_approve_refuses_and_holds_nothing(client, session, drain, clock):
    _boss, (worker, _) = make_team(session)
    _give(session, worker, 500, clock)
    _reward(session)
    say(client, worker, "兑换 R01")
    drain()
    assert last(session, worker).text == texts.NO_APPROVER
    assert session.scalar(select(func.count(Redemption.id))) == 0


# -- the CSV ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(state, tmp_path):
    return {
        "DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
        "BOT_SECRET_KEY": SECRET,
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_ENV": "test",
    }


def test_rewards_export_then_import_round_trips(cli_env, session, tmp_path):
    _reward(session, "R01", "定制保温杯", 100, stock=5)
    _reward(session, "R02", "调休半天", 300, kind=RewardKind.LEAVE)
    out = tmp_path / "rewards.csv"
    result = CliRunner().invoke(cli, ["rewards", "export", str(out)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").splitlines() == [
        "code,name,kind,cost,stock,active",
        "R01,定制保温杯,goods,100,5,true",
        "R02,调休半天,leave,300,,true",
    ]
    out.write_text(
        "code,name,kind,cost,stock,active\nR01,定制保温杯,goods,120,8,true\n"
        "R02,调休半天,leave,300,,false\nR04,晋升评审优先权,priority,1000,,true\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["rewards", "import", str(out)], env=cli_env)
    assert result.exit_code == 0, result.output
    session.expire_all()
    rows = {r.code: (r.cost, r.stock, r.kind, r.active) for r in session.scalars(select(Reward))}
    assert rows == {
        "R01": (120, 8, "goods", True),
        "R02": (300, None, "leave", False),
        "R04": (1000, None, "priority", True),
    }


def test_rewards_import_with_a_bad_row_changes_nothing(cli_env, session, tmp_path):
    _reward(session, "R01", "定制保温杯", 100, stock=5)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,name,kind,cost,stock,active\nR01,定制保温杯,goods,90,5,true\n"
        "R09,坏行,cash,-1,x,maybe\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["rewards", "import", str(bad)], env=cli_env)
    assert result.exit_code == 1
    assert "line 3:" in result.output and "kind must be one of" in result.output
    assert (
        "stock must be empty" in result.output and "active must be true or false" in result.output
    )
    session.expire_all()
    assert session.scalars(select(Reward)).one().cost == 100


# -- concurrency -----------------------------------------------------------------------------


def _race(db_url, tmp_path) -> int:
    """Two worker processes take the waiting inbound events at the same moment."""
    env = {
        "DATABASE_URL": db_url,
        "BOT_SECRET_KEY": SECRET,
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_MEDIA_DIR": str(tmp_path / "media"),
        "BOT_ENV": "test",
    }
    from tests.race import drain_inbound

    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=drain_inbound, args=(env, start, results)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    return results.get(timeout=5) + results.get(timeout=5)


def test_taps_racing_in_two_processes_never_spend_more_than_available(
    client, session, db_url, tmp_path, people
):
    hr, worker = people  # 250 points: room for two of the six 100-point rewards
    for i in range(6):
        _reward(session, f"X{i}", f"奖品{i}", 100)
    for i in range(6):
        say(client, worker, f"兑换 X{i}")
    assert _race(db_url, tmp_path) == 6
    session.expire_all()
    held = session.scalar(
        select(func.sum(Redemption.cost)).where(Redemption.state == RedemptionState.PENDING)
    )
    assert held == 200 and wallet(session, worker.id).available == 50
    assert session.scalar(select(func.count()).where(InboundEvent.state != "done")) == 0


def test_taps_racing_in_two_processes_never_take_stock_below_zero(
    client, session, drain, db_url, tmp_path, people, clock
):
    hr, worker = people
    reward = _reward(session, "S1", "限量工具箱", 10, stock=2)
    boss = worker.supervisor
    crowd = [make_employee(session, supervisor=boss) for _ in range(6)]
    for person in crowd:
        _give(session, person, 100, clock)
        say(client, person, "兑换 S1")
    assert _race(db_url, tmp_path) == 6
    session.expire_all()
    pending = session.scalars(select(Redemption).where(Redemption.state == "pending")).all()
    assert len(pending) == 2
    drain()  # deliver the cards the two processes queued
    # HR approves both; the stock ends at zero, never below.
    for redemption in pending:
        press(client, hr, button(last_card(session, hr, f"兑换申请 #{redemption.id}"), "批准"))
    drain()
    assert session.get(Reward, reward.id).stock == 0
    assert session.scalar(select(func.count()).where(Redemption.state == "approved")) == 2


def test_when_nothing_is_left_the_list_says_sold_out(client, session, drain, people):
    _hr, worker = people
    _reward(session, stock=0)
    say(client, worker, "兑换")
    drain()
    card = last_card(session, worker, texts.LIST_TITLE)
    assert card.lines[0].endswith(texts.SOLD_OUT) and card.buttons == ()
