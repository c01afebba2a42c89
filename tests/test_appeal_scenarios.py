"""Appeals (申诉) over every platform: WeCom, DingTalk and Feishu fakes and the local web chat,
through the scenario suite's drivers (tests/test_scenarios.py, tests/drivers/). What each
platform shows: the rejection card's 申诉, the reviewer's card with the photo and 改判通过 /
维持驳回, the outcome to the worker, and HR's copy once the 3-workday clock runs out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.db import session_scope
from bot.models import Appeal, AppealState, Claim, ClaimState, LedgerEntry, Role
from bot.notices import appeals as notices
from bot.services.ledger import balance
from handlers.claim import PICK_TITLE
from tests import test_scenarios as scenarios
from tests.conftest import TZ
from tests.drivers import Driver
from tests.factories import make_employee, photo_bytes
from tests.test_scenarios import APPROVAL, RULE, Member, Team, said, stored_photo

# The scenario suite's fixtures: the platform under test, its fake, its driver and the team.
platform, fake, platform_env, driver, team = (
    scenarios.platform,
    scenarios.fake,
    scenarios.platform_env,
    scenarios.driver,
    scenarios.team,
)

REJECTED = "❌ 申领被驳回"
REVIEW = "申诉复核"
REASON = "照片右下角能看到 3 号模具编号"


def _manager(session: Session, driver: Driver, team: Team) -> Member:
    """陈经理, 王主管's supervisor, on the platform: who reviews 王主管's rejections."""
    manager = make_employee(session, name="陈经理", role=Role.SUPERVISOR)
    team.boss.employee.supervisor = manager
    session.commit()
    return Member(manager, driver.enroll(session, manager))


def _claim(driver: Driver, session: Session, drain: Any, team: Team, seed: int) -> Claim:
    """The worker claims A01 with a photo of their own (`seed`)."""
    driver.send_photo(team.worker.uid, photo_bytes(seed))
    drain()
    driver.press(team.worker.uid, driver.last_card(team.worker.uid, PICK_TITLE), "A01")
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


def _rejected(driver: Driver, session: Session, drain: Any, team: Team, seed: int = 1) -> Claim:
    claim = _claim(driver, session, drain, team, seed)
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, APPROVAL), "驳回")
    drain()
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, "驳回申领"), "照片不清晰")
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.REJECTED
    return claim


def _appeal_by_button(
    driver: Driver, session: Session, drain: Any, team: Team, clock: Any
) -> Appeal:
    """The worker taps 申诉 and types the reason; a minute later the reviewer has read it
    (Feishu paces sends to one person at 5 a second: people take that long anyway)."""
    driver.press(team.worker.uid, driver.last_card(team.worker.uid, REJECTED), "申诉")
    drain()
    assert driver.last_card(team.worker.uid).title.startswith("申诉申领 #")
    driver.say(team.worker.uid, REASON)
    drain()
    clock.advance(minutes=1)
    return session.scalars(select(Appeal)).one()


def _entries(session: Session) -> int:
    return session.scalar(select(func.count(LedgerEntry.id)))


def test_appeal_by_button_reaches_the_supervisor_with_the_photo_and_overturn_credits_once(
    driver, session, drain, state, clock, team
):
    manager = _manager(session, driver, team)
    claim = _rejected(driver, session, drain, team)
    appeal = _appeal_by_button(driver, session, drain, team, clock)
    assert appeal.reviewer_id == manager.employee.id and appeal.reason == REASON
    card = driver.last_card(manager.uid, REVIEW)
    assert card.buttons == (notices.OVERTURN_LABEL, notices.UPHOLD_LABEL)
    assert card.photo is not None and stored_photo(state, claim) in card.photo
    assert {"申领人", "规则", "积分", "驳回", "同规则"} <= set(card.fields)
    assert driver.last_card(team.worker.uid, REJECTED).buttons == ()
    driver.press(manager.uid, card, notices.OVERTURN_LABEL, times=2)
    drain()
    session.refresh(appeal)
    assert appeal.state == AppealState.OVERTURNED
    assert _entries(session) == 1 and balance(session, team.worker.employee.id) == 20
    assert driver.last_message(team.worker.uid) == said(
        notices.OVERTURNED_CLAIMANT.format(
            claim_id=claim.id, rule=RULE, name="陈经理", points="+20 分", balance=20
        )
    )
    assert driver.last_card(team.worker.uid, REJECTED).status == "申诉改判通过 · +20 分"
    reviewed = driver.last_card(manager.uid, REVIEW)
    assert reviewed.buttons == () and reviewed.status == "已改判通过 · 陈经理 · 10:01"


def test_uphold_with_a_reason_tells_the_worker_and_credits_nothing(
    driver, session, drain, clock, team
):
    manager = _manager(session, driver, team)
    claim = _rejected(driver, session, drain, team)
    _appeal_by_button(driver, session, drain, team, clock)
    driver.press(manager.uid, driver.last_card(manager.uid, REVIEW), notices.UPHOLD_LABEL)
    drain()
    driver.say(manager.uid, "照片里是 5 号模具")
    drain()
    assert driver.last_message(team.worker.uid) == said(
        notices.UPHELD_CLAIMANT.format(
            claim_id=claim.id, rule=RULE, name="陈经理", reason="照片里是 5 号模具"
        )
    )
    assert _entries(session) == 0
    assert session.scalars(select(Appeal)).one().state == AppealState.UPHELD


def test_appeal_of_an_approved_claim_and_a_second_appeal_are_refused(
    driver, session, drain, clock, team
):
    _manager(session, driver, team)
    approved = _claim(driver, session, drain, team, seed=1)
    driver.press(team.boss.uid, driver.last_card(team.boss.uid, APPROVAL), "通过")
    drain()
    driver.say(team.worker.uid, f"申诉 {approved.id} {REASON}")
    drain()
    assert driver.last_message(team.worker.uid) == said(
        notices.ALREADY_APPROVED.format(claim_id=approved.id)
    )
    rejected = _rejected(driver, session, drain, team, seed=2)
    clock.advance(minutes=1)
    driver.say(team.worker.uid, f"申诉 {rejected.id} {REASON}")
    drain()
    (appeal,) = session.scalars(select(Appeal)).all()
    driver.say(team.worker.uid, f"申诉 {rejected.id} 再看看")
    drain()
    assert driver.last_message(team.worker.uid) == said(
        notices.ALREADY_APPEALED.format(
            claim_id=rejected.id, date="11-26 10:01", appeal_id=appeal.id, state="待复核"
        )
    )
    assert session.scalar(select(func.count(Appeal.id))) == 1


def test_unanswered_appeal_reaches_hr_after_three_workdays(
    driver, session, drain, state, clock, team
):
    manager = _manager(session, driver, team)
    hr = make_employee(session, name="刘HR", role=Role.HR)
    hr_uid = driver.enroll(session, hr)
    _rejected(driver, session, drain, team)
    appeal = _appeal_by_button(driver, session, drain, team, clock)
    # Monday the reviewer is reminded; Tuesday 10:00, Thursday + 3 workdays, HR is told.
    for when in (datetime(2026, 11, 30, 10, 0), datetime(2026, 12, 1, 10, 0)):
        clock.set(when.replace(tzinfo=TZ))
        with session_scope(state.session_factory) as s:
            asks.tick(s, clock.now(), signer=state.signer, tz=state.config.tz)
    drain()
    card = driver.last_card(hr_uid, "⏰")
    assert REVIEW in card.title
    assert card.buttons == (notices.OVERTURN_LABEL, notices.UPHOLD_LABEL)
    driver.press(hr_uid, card, notices.OVERTURN_LABEL)
    drain()
    session.refresh(appeal)
    assert appeal.state == AppealState.OVERTURNED and appeal.decided_by_id == hr.id
    assert balance(session, team.worker.employee.id) == 20
    assert driver.last_card(manager.uid, REVIEW).buttons == ()
