"""Claim rules end to end through the local web chat: typed claims, photos, caps, campaigns.

The claim → approval → ledger loop itself, duplicates, wrong approvers and card copies run on
every platform in tests/test_scenarios.py.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.models import Claim, ClaimState, LedgerEntry, Outbox
from bot.notices import claims as notices
from bot.services.ledger import balance
from cards import Card, Text
from handlers.claim import PICK_TITLE
from tests.factories import make_team, photo_bytes
from tests.localchat import button, last, last_card, press, say, send_photo


def _claim_by_photo(client, session, drain, worker, seed=1, code="A01"):
    assert send_photo(client, worker, photo_bytes(seed)).status_code == 202
    drain()
    pick = last_card(session, worker, PICK_TITLE)
    press(client, worker, button(pick, code))
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


def test_typed_claim_waits_for_photo_then_submits(client, session, drain):
    boss, (worker, _) = make_team(session)
    say(client, worker, "申领 A03 冲压件毛刺")
    drain()
    assert last(session, worker) == Text(
        notices.EVIDENCE_REQUIRED.format(rule="A03 主动上报潜在质量问题")
    )
    send_photo(client, worker, photo_bytes(7))
    drain()
    claim = session.scalars(select(Claim)).one()
    assert (claim.rule.code, claim.note, claim.evidence_id is not None) == (
        "A03",
        "冲压件毛刺",
        True,
    )
    assert isinstance(last_card(session, boss, "待审核申领"), Card)


def test_typed_claim_after_photo_attaches_it(client, session, drain):
    _boss, (worker, _) = make_team(session)
    send_photo(client, worker, photo_bytes(8))
    drain()
    say(client, worker, "申领 a04")
    drain()
    claim = session.scalars(select(Claim)).one()
    assert claim.rule.code == "A04" and claim.evidence_id is not None


def test_claim_without_evidence_rule_needs_no_photo(client, session, drain):
    _boss, (worker, _) = make_team(session)
    say(client, worker, "申领 A02 帮二班调试送料机")
    drain()
    assert session.scalars(select(Claim)).one().evidence_id is None


def test_unknown_rule_code_changes_nothing(client, session, drain):
    _boss, (worker, _) = make_team(session)
    say(client, worker, "申领 Z99")
    drain()
    assert "Z99" in last(session, worker).text
    assert session.scalar(select(func.count(Claim.id))) == 0


def test_claimant_cannot_approve_own_claim_even_as_supervisor(client, session, drain):
    boss, (worker, _) = make_team(session)
    claim = _claim_by_photo(client, session, drain, worker)
    # A forged value naming the claimant fails the signature check.
    forged = button(last_card(session, boss, "待审核申领"), "通过")
    tampered = forged.value.replace(f"|{boss.id}|", f"|{worker.id}|")
    from cards import Button

    press(client, worker, Button("通过", tampered))
    drain()
    assert last(session, worker).text == "这个按钮无效，请重新发送指令。"
    session.refresh(claim)
    assert claim.state == ClaimState.PENDING


def test_double_click_credits_once(client, session, drain):
    boss, (worker, _) = make_team(session)
    _claim_by_photo(client, session, drain, worker)
    approve = button(last_card(session, boss, "待审核申领"), "通过")
    press(client, boss, approve)
    press(client, boss, approve)
    drain()
    assert balance(session, worker.id) == 20
    assert session.scalar(select(func.count(LedgerEntry.id))) == 1
    assert last(session, boss).text.startswith("该申领已由 王主管 于 10:00 处理（已通过）")


def test_duplicate_photo_is_refused_naming_earlier_claim(client, session, drain):
    _boss, (worker, colleague) = make_team(session)
    first = _claim_by_photo(client, session, drain, worker, seed=3)
    send_photo(client, colleague, photo_bytes(3))
    drain()
    text = last(session, colleague).text
    assert f"#{first.id}" in text and worker.name in text


def test_daily_cap_blocks_extra_claims(client, session, drain):
    _boss, (worker, _) = make_team(session)
    for seed in (11, 12):  # A01 allows 2 a day
        _claim_by_photo(client, session, drain, worker, seed=seed)
    send_photo(client, worker, photo_bytes(13))
    drain()
    press(client, worker, button(last_card(session, worker, PICK_TITLE), "A01"))
    drain()
    assert last(session, worker) == Text(
        notices.DAILY_CAP.format(rule="发现模具磨损隐患并报修", count=2, cap=2)
    )
    assert session.scalar(select(func.count(Claim.id))) == 2


def test_weekly_cap_blocks_extra_claims(client, session, drain, clock):
    _boss, (worker, _) = make_team(session)
    say(client, worker, "申领 A08")  # A08: one per week, no photo needed
    drain()
    clock.advance(days=1)
    say(client, worker, "申领 A08")
    drain()
    assert last(session, worker) == Text(
        notices.WEEKLY_CAP.format(rule="担任新员工带教师傅", count=1, cap=1)
    )


def test_worker_without_supervisor_is_told_whom_to_ask(client, session, drain):
    from tests.factories import make_employee

    loner = make_employee(session)
    say(client, loner, "申领 A02")
    drain()
    assert last(session, loner) == Text(notices.NO_SUPERVISOR)


def test_every_reply_goes_through_the_outbox(client, session, drain):
    _boss, (worker, _) = make_team(session)
    say(client, worker, "积分")
    drain()
    assert session.scalar(select(func.count(Outbox.id)).where(Outbox.state == "sent")) == 1


def test_campaign_bonus_is_credited_and_named_in_the_total(client, session, drain, clock):
    from datetime import timedelta

    from bot.models import Campaign

    session.add(
        Campaign(
            name="上线推广",
            bonus_points=2,
            starts_at=clock.now() - timedelta(days=1),
            ends_at=clock.now() + timedelta(days=60),
        )
    )
    session.commit()
    boss, (worker, _) = make_team(session)
    _claim_by_photo(client, session, drain, worker)
    press(client, boss, button(last_card(session, boss, "待审核申领"), "通过"))
    drain()
    kinds = session.execute(
        select(LedgerEntry.kind, LedgerEntry.points).order_by(LedgerEntry.seq)
    ).all()
    assert [tuple(k) for k in kinds] == [("claim", 20), ("bonus", 2)]
    assert last(session, worker) == Text(
        notices.CLAIM_APPROVED.format(
            rule="发现模具磨损隐患并报修", award="+22 分（含上线推广 +2）", balance=22
        )
    )
