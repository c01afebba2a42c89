"""Appeals (申诉, design §15) through the local web chat: the 申诉 button on the rejection and
`申诉 <编号> <理由>`, who may appeal what and when, the reviewer's 改判通过 / 维持驳回 ask, the
ledger credit linked to the appeal, and the 3-workday clock that hands the ask to HR.

The same flow over every platform's fake runs in tests/test_appeal_scenarios.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select, text

from bot import asks
from bot.db import alembic_config, session_scope, upgrade
from bot.errors import NotAllowed
from bot.models import (
    Appeal,
    AppealState,
    Ask,
    Campaign,
    Claim,
    ClaimState,
    LedgerEntry,
    Role,
)
from bot.notices import appeals as notices
from bot.services.appeals import appeal_entries, appeal_of_entry, overturn_appeal
from bot.services.claims import ClaimContext
from bot.services.ledger import balance, verify_ledger
from bot.services.workcal import load_calendar, set_workday
from bot.signing import NOT_YOUR_BUTTON
from cards import Card, Text
from handlers.claim import PICK_TITLE
from handlers.help import HELP_TITLE
from tests.conftest import TZ
from tests.factories import make_claim, make_employee, make_team, photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo

REJECTED = "❌ 申领被驳回"
REVIEW = "申诉复核"
REASON = "照片右下角能看到 3 号模具编号"


def _people(session):
    """陈经理 ← 王主管 ← two workers; an HR colleague."""
    boss, (worker, colleague) = make_team(session)
    manager = make_employee(session, name="陈经理", role=Role.SUPERVISOR)
    hr = make_employee(session, name="刘HR", role=Role.HR)
    boss.supervisor = manager
    session.commit()
    return manager, boss, worker, colleague, hr


def _claim(client, session, drain, worker, *, seed=1, code="A01"):
    send_photo(client, worker, photo_bytes(seed))
    drain()
    press(client, worker, button(last_card(session, worker, PICK_TITLE), code))
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


def _reject(client, session, drain, boss, claim, reason="照片看不到模具编号"):
    press(client, boss, button(last_card(session, boss, f"待审核申领 #{claim.id}"), "驳回"))
    drain()
    say(client, boss, reason)
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.REJECTED
    return claim


def _rejected(client, session, drain, boss, worker, **kw):
    return _reject(client, session, drain, boss, _claim(client, session, drain, worker, **kw))


def _appeal(client, session, drain, worker, claim, reason=REASON):
    say(client, worker, f"申诉 {claim.id} {reason}")
    drain()
    return session.scalars(select(Appeal).where(Appeal.claim_id == claim.id)).one()


def _tick(state):
    with session_scope(state.session_factory) as s:
        return asks.tick(s, state.clock.now(), signer=state.signer, tz=state.config.tz)


def _count(session, column):
    return session.scalar(select(func.count(column)))


# -- the rejection carries 申诉 --------------------------------------------------------------------


def test_rejection_is_a_card_whose_appeal_button_only_the_claimant_may_press(
    client, session, drain
):
    _, boss, worker, colleague, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    card = last_card(session, worker, REJECTED)
    assert card.title == notices.REJECTED_TITLE.format(claim_id=claim.id)
    assert "原因：照片看不到模具编号" in card.lines
    assert [b.label for b in card.buttons] == [notices.APPEAL_LABEL]
    press(client, colleague, button(card, notices.APPEAL_LABEL))
    drain()
    assert last(session, colleague) == Text(NOT_YOUR_BUTTON)
    assert _count(session, Appeal.id) == 0


def test_appeal_button_then_typed_reason_asks_the_rejecters_supervisor(
    client, session, drain, state
):
    manager, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    press(client, worker, button(last_card(session, worker, REJECTED), notices.APPEAL_LABEL))
    drain()
    prompt = last_card(session, worker, notices.PROMPT_TITLE.format(claim_id=claim.id))
    assert notices.PROMPT_LINE in prompt.lines and [b.label for b in prompt.buttons] == ["取消"]
    say(client, worker, REASON)
    drain()
    appeal = session.scalars(select(Appeal)).one()
    assert (appeal.state, appeal.reason, appeal.reviewer_id) == (
        AppealState.PENDING,
        REASON,
        manager.id,
    )
    assert (appeal.rejected_by_id, appeal.rejection_reason) == (boss.id, "照片看不到模具编号")
    card = last_card(session, manager, REVIEW)
    assert card.title == notices.CARD_TITLE.format(appeal_id=appeal.id, name=worker.name)
    assert card.image == f"evidence:{claim.evidence_id}"
    assert f"申诉理由：{REASON}" in card.lines and "驳回原因：照片看不到模具编号" in card.lines
    fields = {f.label: f.value for f in card.fields}
    assert fields["积分"] == "+20 分" and fields["驳回"].startswith("王主管")
    assert fields["同规则"] == "近90天 通过 0 · 驳回 0"
    assert [b.label for b in card.buttons] == [notices.OVERTURN_LABEL, notices.UPHOLD_LABEL]
    assert last(session, worker) == Text(
        notices.FILED.format(
            appeal_id=appeal.id, claim_id=claim.id, rule="A01 发现模具磨损隐患并报修",
            reviewer="陈经理", due="12-01 10:00",
        )
    )  # fmt: skip
    rejection = last_card(session, worker, REJECTED)
    assert rejection.buttons == () and rejection.status == "已申诉 · 10:00（陈经理 复核中）"
    assert rejection.note is None  # no more "tap 申诉"
    assert last_card(session, worker, "申诉申领").status == f"已提交申诉 #{appeal.id}"
    # The boss is not asked to review his own rejection.
    assert not [m for m in inbox(session, boss) if getattr(m, "title", "").startswith(REVIEW)]


@pytest.mark.parametrize(
    "typed", ["申诉 {id} {reason}", "申诉 #{id}，{reason}", "appeal ＃{id}：{reason}"]
)
def test_typed_appeal_with_number_and_reason_files_it_at_once(client, session, drain, typed):
    manager, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    say(client, worker, typed.format(id=claim.id, reason=REASON))
    drain()
    appeal = session.scalars(select(Appeal)).one()
    assert appeal.claim_id == claim.id and appeal.reason == REASON
    assert last_card(session, manager, REVIEW).buttons


def test_appeal_alone_explains_how_and_lists_what_can_be_appealed(client, session, drain):
    _, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    say(client, worker, "申诉")
    drain()
    card = last(session, worker)
    assert isinstance(card, Card) and card.title == notices.LIST_TITLE
    assert card.note == notices.USAGE
    assert notices.LIST_EMPTY in card.lines
    assert (
        f"申领 #{claim.id} A01 发现模具磨损隐患并报修 · 11-26 10:00 驳回，还剩 30 天" in card.lines
    )
    press(client, worker, button(card, f"申诉 #{claim.id}"))
    drain()
    assert last_card(session, worker, "申诉申领").title == f"申诉申领 #{claim.id}"


def test_listing_shows_each_appeals_state(client, session, drain):
    manager, boss, worker, _, _ = _people(session)
    first = _rejected(client, session, drain, boss, worker, seed=1)
    second = _rejected(client, session, drain, boss, worker, seed=2, code="A03")
    one = _appeal(client, session, drain, worker, first)
    press(client, manager, button(last_card(session, manager, f"{REVIEW} #{one.id}"), "改判通过"))
    drain()
    two = _appeal(client, session, drain, worker, second)
    say(client, worker, "申诉")
    drain()
    lines = last(session, worker).lines
    assert f"申诉 #{two.id} · 申领 #{second.id} A03 · 待复核（陈经理，截止 12-01 10:00）" in lines
    assert f"申诉 #{one.id} · 申领 #{first.id} A01 · 改判通过 +20 分" in lines


# -- who may appeal what, and when ------------------------------------------------------------------


def test_appeal_of_an_approved_claim_is_refused(client, session, drain):
    _, boss, worker, _, _ = _people(session)
    claim = _claim(client, session, drain, worker)
    press(client, boss, button(last_card(session, boss, "待审核申领"), "通过"))
    drain()
    say(client, worker, f"申诉 {claim.id} {REASON}")
    drain()
    assert last(session, worker) == Text(notices.ALREADY_APPROVED.format(claim_id=claim.id))
    assert _count(session, Appeal.id) == 0


def test_appeal_of_a_claim_still_pending_is_refused(client, session, drain):
    _, _, worker, _, _ = _people(session)
    claim = _claim(client, session, drain, worker)
    say(client, worker, f"申诉 {claim.id} {REASON}")
    drain()
    assert last(session, worker) == Text(notices.STILL_PENDING.format(claim_id=claim.id))


@pytest.mark.parametrize("outcome", ["pending", "upheld"])
def test_second_appeal_of_a_claim_is_refused(client, session, drain, outcome):
    manager, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    appeal = _appeal(client, session, drain, worker, claim)
    if outcome == "upheld":
        press(client, manager, button(last_card(session, manager, REVIEW), "维持驳回"))
        drain()
        say(client, manager, "照片仍看不清编号")
        drain()
    asks_before = _count(session, Ask.id)
    say(client, worker, f"申诉 {claim.id} 再看一次")
    drain()
    session.refresh(appeal)
    state = notices.STATE_LABELS[AppealState(appeal.state)]
    assert last(session, worker) == Text(
        notices.ALREADY_APPEALED.format(
            claim_id=claim.id, date="11-26 10:00", appeal_id=appeal.id, state=state
        )
    )
    assert _count(session, Appeal.id) == 1 and _count(session, Ask.id) == asks_before


def test_appeal_of_someone_elses_claim_is_refused(client, session, drain):
    _, boss, worker, colleague, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    say(client, colleague, f"申诉 {claim.id} 我看到他修的")
    drain()
    assert last(session, colleague) == Text(notices.NOT_YOURS.format(claim_id=claim.id))
    assert _count(session, Appeal.id) == 0


@pytest.mark.parametrize(
    "after, accepted",
    [(timedelta(days=29, hours=23), True), (timedelta(days=30, minutes=1), False)],
    ids=["last-day", "day-31"],
)
def test_appeal_is_possible_for_thirty_days_after_the_rejection(
    client, session, drain, clock, after, accepted
):
    _, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    clock.advance(seconds=after.total_seconds())
    say(client, worker, f"申诉 {claim.id} {REASON}")
    drain()
    assert (_count(session, Appeal.id) == 1) is accepted
    if not accepted:
        assert last(session, worker) == Text(
            notices.TOO_LATE.format(claim_id=claim.id, date="11-26 10:00")
        )


def test_unknown_claim_number_and_bad_number_get_clear_answers(client, session, drain):
    _, _, worker, _, _ = _people(session)
    say(client, worker, "申诉 9999 理由")
    drain()
    assert last(session, worker) == Text(notices.NOT_FOUND.format(claim_id=9999))
    say(client, worker, "申诉 第三条 理由")
    drain()
    assert last(session, worker) == Text(notices.BAD_NUMBER.format(text="第三条"))


def test_too_long_reason_is_refused_and_the_prompt_keeps_waiting(client, session, drain):
    _, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    say(client, worker, f"申诉 {claim.id}")
    drain()
    say(client, worker, "长" * 501)
    drain()
    assert last(session, worker) == Text(notices.REASON_TOO_LONG.format(length=501, limit=500))
    assert _count(session, Appeal.id) == 0
    say(client, worker, REASON)
    drain()
    assert session.scalars(select(Appeal)).one().reason == REASON


def test_cancel_files_nothing_and_later_text_is_not_taken_for_a_reason(client, session, drain):
    _, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    press(client, worker, button(last_card(session, worker, REJECTED), notices.APPEAL_LABEL))
    drain()
    press(client, worker, button(last_card(session, worker, "申诉申领"), "取消"))
    drain()
    assert last(session, worker) == Text(
        notices.CANCELLED.format(claim_id=claim.id, deadline="12-26 10:00")
    )
    assert last_card(session, worker, "申诉申领").status == notices.PROMPT_CANCELLED
    say(client, worker, "你好")
    drain()
    assert last(session, worker).title == HELP_TITLE
    assert _count(session, Appeal.id) == 0


def test_cancel_pressed_after_filing_changes_nothing(client, session, drain):
    _, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    press(client, worker, button(last_card(session, worker, REJECTED), notices.APPEAL_LABEL))
    drain()
    stale = button(last_card(session, worker, "申诉申领"), "取消")
    say(client, worker, REASON)
    drain()
    appeal = session.scalars(select(Appeal)).one()
    press(client, worker, stale)
    drain()
    assert last(session, worker) == Text(notices.NOTHING_TO_CANCEL.format(claim_id=claim.id))
    assert last_card(session, worker, "申诉申领").status == f"已提交申诉 #{appeal.id}"
    assert session.get(Appeal, appeal.id).state == AppealState.PENDING


def test_reason_goes_to_the_claim_whose_appeal_was_tapped_last(client, session, drain):
    _, boss, worker, _, _ = _people(session)
    first = _rejected(client, session, drain, boss, worker, seed=1)
    second = _rejected(client, session, drain, boss, worker, seed=2, code="A03")
    say(client, worker, f"申诉 {first.id}")
    drain()
    say(client, worker, f"申诉 {second.id}")
    drain()
    say(client, worker, REASON)
    drain()
    assert session.scalars(select(Appeal.claim_id)).all() == [second.id]
    cards = {c.title: c for c in inbox(session, worker) if isinstance(c, Card)}
    assert cards[f"申诉申领 #{first.id}"].status == notices.PROMPT_CANCELLED
    assert cards[f"申诉申领 #{second.id}"].status.startswith("已提交申诉")


# -- the review ------------------------------------------------------------------------------------


def test_overturn_credits_points_and_bonus_once_linked_to_the_appeal(client, session, drain, clock):
    manager, boss, worker, _, _ = _people(session)
    session.add(Campaign(name="上线推广", bonus_points=2, starts_at=clock.now() - timedelta(days=1),
                         ends_at=clock.now() + timedelta(days=60)))  # fmt: skip
    session.commit()
    claim = _rejected(client, session, drain, boss, worker)
    appeal = _appeal(client, session, drain, worker, claim)
    card = last_card(session, manager, REVIEW)
    assert {f.label: f.value for f in card.fields}["积分"] == "+22 分（含上线推广 +2）"
    clock.advance(minutes=42)
    press(client, manager, button(card, notices.OVERTURN_LABEL))
    press(client, manager, button(card, notices.OVERTURN_LABEL))
    drain()
    session.refresh(appeal)
    session.refresh(claim)
    assert appeal.state == AppealState.OVERTURNED and appeal.points_credited == 22
    assert (claim.state, claim.points_credited, claim.decided_by_id) == (
        ClaimState.APPROVED,
        22,
        manager.id,
    )
    entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)).all()
    assert [(e.kind, e.points, e.claim_id) for e in entries] == [
        ("appeal", 20, claim.id),
        ("bonus", 2, claim.id),
    ]
    assert entries[0].memo == f"申诉 #{appeal.id} 改判：A01 发现模具磨损隐患并报修"
    assert entries[1].memo == f"申诉 #{appeal.id} 改判 · 上线推广 奖励"
    assert appeal.ledger_entry_id == entries[0].id
    assert appeal_entries(session, appeal) == entries
    assert all(appeal_of_entry(session, e) == appeal for e in entries)
    assert balance(session, worker.id) == 22
    points = "+22 分（含上线推广 +2）"
    texts = [m.text for m in inbox(session, worker) if isinstance(m, Text)]
    assert texts[-1] == notices.OVERTURNED_CLAIMANT.format(
        claim_id=claim.id, rule="发现模具磨损隐患并报修", name="陈经理", points=points, balance=22
    )
    assert last_card(session, worker, REJECTED).status == f"申诉改判通过 · {points}"
    assert last(session, boss) == Text(
        notices.DECIDER_OVERTURNED.format(
            claim_id=claim.id, claimant=worker.name, rule="发现模具磨损隐患并报修", name="陈经理"
        )
    )
    manager_texts = [m.text for m in inbox(session, manager) if isinstance(m, Text)]
    assert manager_texts[-2] == notices.OVERTURNED_ACK.format(
        appeal_id=appeal.id, name=worker.name, points=points
    )
    assert manager_texts[-1] == notices.ALREADY_DECIDED.format(
        name="陈经理", time="10:42", outcome="已改判通过"
    )
    assert last_card(session, manager, REVIEW).status == "已改判通过 · 陈经理 · 10:42"
    assert verify_ledger(session).ok  # last: it detaches what the session loaded


def test_uphold_needs_a_reason_and_tells_the_claimant_it(client, session, drain):
    manager, boss, worker, _, _ = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    appeal = _appeal(client, session, drain, worker, claim)
    press(client, manager, button(last_card(session, manager, REVIEW), notices.UPHOLD_LABEL))
    drain()
    prompt = last_card(session, manager, notices.UPHOLD_TITLE.format(appeal_id=appeal.id))
    assert [b.label for b in prompt.buttons] == [*notices.UPHOLD_REASONS, "取消"]
    session.refresh(appeal)
    assert appeal.state == AppealState.PENDING
    say(client, manager, "照片里的编号是 5 号模具，不是 3 号")
    drain()
    session.refresh(appeal)
    assert appeal.state == AppealState.UPHELD and appeal.decided_by_id == manager.id
    assert appeal.decision_reason == "照片里的编号是 5 号模具，不是 3 号"
    assert last(session, worker) == Text(
        notices.UPHELD_CLAIMANT.format(
            claim_id=claim.id, rule="发现模具磨损隐患并报修", name="陈经理",
            reason="照片里的编号是 5 号模具，不是 3 号",
        )
    )  # fmt: skip
    assert last_card(session, worker, REJECTED).status == notices.UPHELD_STATUS
    assert _count(session, LedgerEntry.id) == 0 and balance(session, worker.id) == 0
    assert session.get(Claim, claim.id).state == ClaimState.REJECTED


def test_appeal_goes_to_hr_when_the_rejecter_has_no_supervisor(client, session, drain):
    _, boss, worker, _, hr = _people(session)
    boss.supervisor = None
    session.commit()
    claim = _rejected(client, session, drain, boss, worker)
    appeal = _appeal(client, session, drain, worker, claim)
    assert appeal.reviewer_id == hr.id
    press(client, hr, button(last_card(session, hr, REVIEW), notices.OVERTURN_LABEL))
    drain()
    assert balance(session, worker.id) == 20


def test_nobody_reviews_their_own_appeal(session, clock, state):
    _, boss, worker, _, _ = _people(session)
    hr_worker = make_employee(session, name="HR小李", role=Role.HR, supervisor=boss)
    claim = make_claim(session, employee=hr_worker, state=ClaimState.REJECTED)
    appeal = Appeal(claim=claim, employee=hr_worker, reason=REASON, reviewer=boss,
                    rejected_by=boss, due_at=clock.now(), created_at=clock.now())  # fmt: skip
    session.add(appeal)
    session.commit()
    ctx = ClaimContext(now=clock.now(), tz=TZ, signer=state.signer)
    with pytest.raises(NotAllowed, match=notices.SELF_REVIEW):
        overturn_appeal(session, appeal.id, hr_worker, ctx)
    with pytest.raises(NotAllowed, match=notices.OWN_DECISION):
        overturn_appeal(session, appeal.id, boss, ctx)


# -- the 3-workday clock -----------------------------------------------------------------------


def test_unanswered_appeal_is_escalated_to_hr_after_three_workdays(
    client, session, drain, clock, state
):
    manager, boss, worker, _, hr = _people(session)
    claim = _rejected(client, session, drain, boss, worker)
    appeal = _appeal(client, session, drain, worker, claim)  # Thursday 10:00
    assert appeal.due_at == datetime(2026, 12, 1, 10, 0, tzinfo=TZ)  # Fri, Mon, Tue
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=TZ))  # Monday: the reviewer is reminded
    assert _tick(state).notified == 1
    drain()
    assert last_card(session, manager, "⏰").buttons
    clock.set(datetime(2026, 12, 1, 9, 59, tzinfo=TZ))
    assert _tick(state).notified == 0
    clock.advance(minutes=1)
    assert _tick(state).notified == 1
    drain()
    card = last_card(session, hr, "⏰")
    assert REVIEW in card.title
    assert [b.label for b in card.buttons] == [notices.OVERTURN_LABEL, notices.UPHOLD_LABEL]
    press(client, hr, button(card, notices.OVERTURN_LABEL))
    drain()
    session.refresh(appeal)
    assert appeal.state == AppealState.OVERTURNED and appeal.decided_by_id == hr.id
    assert balance(session, worker.id) == 20
    assert last_card(session, manager, REVIEW).status.startswith("已改判通过 · 刘HR")


def test_a_holiday_moves_the_appeal_due_time(client, session, drain, clock):
    manager, boss, worker, _, _ = _people(session)
    set_workday(session, datetime(2026, 11, 30).date(), False, "调休")
    session.commit()
    claim = _rejected(client, session, drain, boss, worker)
    appeal = _appeal(client, session, drain, worker, claim)
    assert appeal.due_at == datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # Fri, Tue, Wed
    ask = session.scalars(select(Ask).where(Ask.subject == f"appeal:{appeal.id}")).one()
    assert ask.due_at == appeal.due_at and ask.policy == notices.APPEAL_POLICY


@pytest.mark.parametrize(
    "start, due",
    [
        (datetime(2026, 11, 26, 10, 0), datetime(2026, 12, 1, 10, 0)),  # Thursday
        (datetime(2026, 11, 28, 10, 0), datetime(2026, 12, 3, 7, 30)),  # Saturday
        (datetime(2026, 11, 26, 22, 30), datetime(2026, 12, 2, 7, 30)),  # Thursday, quiet hours
        (datetime(2026, 11, 27, 6, 0), datetime(2026, 12, 2, 7, 30)),  # Friday before opening
    ],
    ids=["thursday", "saturday", "thursday-night", "friday-dawn"],
)
def test_three_workdays_on_the_calendar(session, start, due):
    calendar = load_calendar(session, TZ, start.date())
    assert calendar.add_workdays(start.replace(tzinfo=TZ), 3) == due.replace(tzinfo=TZ)


# -- revision 0016 ---------------------------------------------------------------------------------


def _before_0016() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return str(script.get_revision("0016").down_revision)


def test_revision_0016_adds_appeals_and_their_policy_and_keeps_existing_claims(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    previous = _before_0016()
    upgrade(url, previous)
    engine = create_engine(url)
    at = datetime(2026, 11, 20, 2, 0)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO employees (employee_no, name, role, active, created_at) "
                          "VALUES ('W1', '张伟', 'worker', 1, :t)"), {"t": at})  # fmt: skip
        conn.execute(text("INSERT INTO claims (employee_id, rule_id, state, reason, created_at, "
                          "decided_at) SELECT 1, id, 'rejected', '照片不清晰', :t, :t FROM rules "
                          "WHERE code = 'A01'"), {"t": at})  # fmt: skip
    upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state, reason FROM claims")).one() == (
            "rejected",
            "照片不清晰",
        )
        steps = conn.execute(
            text("SELECT steps FROM escalation_policies WHERE name = 'appeal'")
        ).scalar_one()
        assert "hr" in steps and "appeals" in inspect(conn).get_table_names()
    command.downgrade(alembic_config(url), previous)
    with engine.connect() as conn:
        assert "appeals" not in inspect(conn).get_table_names()
        assert (
            conn.execute(
                text("SELECT count(*) FROM escalation_policies WHERE name = 'appeal'")
            ).scalar_one()
            == 0
        )
        assert conn.execute(text("SELECT count(*) FROM claims")).scalar_one() == 1
    engine.dispose()
