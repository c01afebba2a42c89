"""Campaigns (design §15): create | end | list, rule-limited bonuses, and the bonus named on
every screen that shows points (submitted, approval card, approved, 积分, pick card)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import cli
from bot.errors import InvalidInput, NotFound
from bot.models import Campaign, Claim
from bot.notices import claims as notices
from bot.services.campaigns import create_campaign, end_campaign
from cards import Text
from handlers.claim import PICK_TITLE
from tests.conftest import SECRET, TZ
from tests.factories import make_team, photo_bytes
from tests.localchat import button, last, last_card, press, say, send_photo


@pytest.fixture
def cli_env(state, tmp_path):
    return {
        "DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
        "BOT_SECRET_KEY": SECRET,
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_ENV": "test",
    }


def _cli(cli_env, *args):
    return CliRunner().invoke(cli, list(args), env=cli_env)


def _claim(client, session, drain, worker, code="A01", seed=1):
    send_photo(client, worker, photo_bytes(seed))
    drain()
    press(client, worker, button(last_card(session, worker, PICK_TITLE), code))
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


def test_cli_campaign_bonus_is_named_on_every_screen(cli_env, client, session, drain):
    result = _cli(cli_env, "campaigns", "create", "上线推广", "--bonus", "2",
                  "--from", "2026-11-01", "--to", "2026-12-31")  # fmt: skip
    assert result.exit_code == 0, result.output
    boss, (worker, _) = make_team(session)
    send_photo(client, worker, photo_bytes(1))
    drain()
    pick = last_card(session, worker, PICK_TITLE)
    assert "🎁 上线推广进行中：每次申领另加 2 分（至 01-01 00:00）" in pick.lines
    press(client, worker, button(pick, "A01"))
    drain()
    award = "+22 分（含上线推广 +2）"
    assert last(session, worker) == Text(
        notices.CLAIM_SUBMITTED.format(
            rule="A01 发现模具磨损隐患并报修", award=award, approver="王主管"
        )
    )
    card = last_card(session, boss, "待审核申领")
    assert {f.label: f.value for f in card.fields}["积分"] == award
    press(client, boss, button(card, "通过"))
    drain()
    assert last(session, worker) == Text(
        notices.CLAIM_APPROVED.format(rule="发现模具磨损隐患并报修", award=award, balance=22)
    )
    assert last(session, boss).text.endswith(f"（{award}）。")
    say(client, worker, "积分")
    drain()
    lines = last_card(session, worker, f"{worker.name} 的积分").lines
    assert lines[1].endswith(f"{award} A01 发现模具磨损隐患并报修")


def test_rules_limit_the_bonus(cli_env, client, session, drain):
    result = _cli(cli_env, "campaigns", "create", "安全月", "--bonus", "3", "--from",
                  "2026-11-01", "--to", "2026-11-30", "--rules", "a05,A07")  # fmt: skip
    assert result.exit_code == 0, result.output
    _boss, (worker, _) = make_team(session)
    _claim(client, session, drain, worker, "A01")
    assert last(session, worker).text == notices.CLAIM_SUBMITTED.format(
        rule="A01 发现模具磨损隐患并报修", award="+20 分", approver="王主管"
    )
    _claim(client, session, drain, worker, "A07", seed=2)
    assert "+13 分（含安全月 +3）" in last(session, worker).text


def test_ending_keeps_the_bonus_of_claims_made_before(client, session, drain, clock):
    create_campaign(session, "上线推广", bonus=2, first_day=date(2026, 11, 1),
                    last_day=date(2026, 12, 31), codes=[], tz=TZ, now=clock.now())  # fmt: skip
    session.commit()
    boss, (worker, _) = make_team(session)
    _claim(client, session, drain, worker, "A03")
    clock.advance(hours=1)
    end_campaign(session, "上线推广", clock.now())
    session.commit()
    press(client, boss, button(last_card(session, boss, "待审核申领"), "通过"))
    drain()
    assert "+12 分（含上线推广 +2）" in last(session, worker).text
    _claim(client, session, drain, worker, "A04", seed=2)
    assert "+5 分，" in last(session, worker).text


def test_create_refuses_bad_input(session, clock):
    def create(**kw):
        args = dict(bonus=2, first_day=date(2026, 11, 1), last_day=date(2026, 11, 30), codes=[],
                    tz=TZ, now=clock.now())  # fmt: skip
        args.update(kw)
        return create_campaign(session, kw.pop("name", "推广"), **args)

    with pytest.raises(InvalidInput, match="Z99"):
        create(codes=["A01", "Z99"])
    with pytest.raises(InvalidInput, match="before"):
        create(last_day=date(2026, 10, 1))
    with pytest.raises(InvalidInput, match="--bonus"):
        create(bonus=0)
    create()
    with pytest.raises(InvalidInput, match="running or scheduled"):
        create()
    with pytest.raises(NotFound):
        end_campaign(session, "没有这个", clock.now())


def test_cli_list_and_end(cli_env, session):
    assert _cli(cli_env, "campaigns", "list").output.strip() == "no campaigns (暂无活动)"
    assert _cli(cli_env, "campaigns", "create", "远期活动", "--bonus", "5", "--from",
                "2099-01-01", "--to", "2099-01-31", "--rules", "A01").exit_code == 0  # fmt: skip
    listed = _cli(cli_env, "campaigns", "list").output.splitlines()
    assert listed == ["远期活动\t+5\t2099-01-01\t2099-01-31\tA01\tscheduled"]
    result = _cli(cli_env, "campaigns", "end", "远期活动")
    assert result.exit_code == 0, result.output
    assert _cli(cli_env, "campaigns", "list").output.splitlines()[0].endswith("\t-\tA01\tended")
    again = _cli(cli_env, "campaigns", "end", "远期活动")
    assert again.exit_code == 1 and "no running or scheduled campaign" in again.output
    bad = _cli(cli_env, "campaigns", "create", "坏", "--bonus", "2", "--from", "2026-13-01",
               "--to", "2026-12-01")  # fmt: skip
    assert bad.exit_code == 2


def test_a_window_covers_whole_local_days(session, clock):
    campaign = create_campaign(session, "一天", bonus=1, first_day=date(2026, 11, 26),
                               last_day=date(2026, 11, 26), codes=[], tz=TZ, now=clock.now())  # fmt: skip
    assert campaign.starts_at.astimezone(TZ).isoformat() == "2026-11-26T00:00:00+08:00"
    assert campaign.ends_at - campaign.starts_at == timedelta(days=1)
    assert session.scalars(select(Campaign)).one().name == "一天"
