"""Review of approvals (design §15): the second approval of flagged or high-value claims, the
three collusion signals, old photos, and HR's list of flags."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import func, select

from bot.cli import cli
from bot.config import load_config
from bot.errors import ConfigError
from bot.models import Claim, ClaimApproval, ClaimState, LedgerEntry, ReviewFlag, Role
from bot.notices import appeals as appeal_notices
from bot.notices import claims as claim_notices
from bot.notices import review as texts
from bot.services.ledger import balance
from cards import Text
from handlers.claim import PICK_TITLE
from tests.conftest import SECRET
from tests.factories import make_claim, make_employee, make_team, photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo


@pytest.fixture
def platform_env():
    """The design's default threshold (the suite's other tests run at 100)."""
    return {"BOT_SECOND_APPROVAL_POINTS": "20"}


def _team_with_manager(session):
    boss, (worker, other) = make_team(session)
    manager = make_employee(session, name="赵经理", role=Role.SUPERVISOR)
    boss.supervisor = manager
    session.commit()
    return manager, boss, worker, other


def _claim(client, session, drain, worker, code="A01", seed=1, data=None):
    send_photo(client, worker, data or photo_bytes(seed))
    drain()
    press(client, worker, button(last_card(session, worker, PICK_TITLE), code))
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


def _approve(client, session, drain, boss):
    press(client, boss, button(last_card(session, boss, "待审核申领"), "通过"))
    drain()


def test_claim_at_the_threshold_waits_for_the_approvers_supervisor(client, session, drain):
    manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    session.refresh(claim)
    assert claim.state == ClaimState.PENDING and balance(session, worker.id) == 0
    card = last_card(session, manager, "待复核申领")
    assert card.lines[0] == texts.WHY_HEADER
    assert card.lines[1] == "· 积分 20 分，达到复核线 20 分"
    assert [b.label for b in card.buttons] == ["通过", "驳回"]
    assert {f.label: f.value for f in card.fields}["初审"].startswith("王主管 · ")
    assert last(session, worker).text.startswith(f"⏳ 申领 #{claim.id}")
    assert last(session, boss).text.startswith(
        f"已初审通过 #{claim.id}（+20 分），还需 赵经理 复核"
    )


def test_second_approval_credits_and_tells_the_worker(client, session, drain):
    manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    press(client, manager, button(last_card(session, manager, "待复核申领"), "通过"))
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.APPROVED and claim.decided_by_id == manager.id
    assert balance(session, worker.id) == 20
    assert last(session, worker) == Text(
        claim_notices.CLAIM_APPROVED.format(
            rule="发现模具磨损隐患并报修", award="+20 分", balance=20
        )
    )
    stages = session.scalars(select(ClaimApproval.stage).where(ClaimApproval.claim_id == claim.id))
    assert sorted(stages) == [1, 2]
    assert last_card(session, manager, "待复核申领").status.startswith("已复核通过 · 赵经理")


def test_second_rejection_tells_worker_and_first_approver(client, session, drain):
    manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    press(client, manager, button(last_card(session, manager, "待复核申领"), "驳回"))
    drain()
    say(client, manager, "照片里看不到模具")
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.REJECTED and claim.reason == "照片里看不到模具"
    assert balance(session, worker.id) == 0
    rejected = last_card(session, worker, appeal_notices.REJECTED_TITLE.format(claim_id=claim.id))
    assert appeal_notices.REJECTED_REASON.format(reason="照片里看不到模具") in rejected.lines
    assert [b.label for b in rejected.buttons] == [appeal_notices.APPEAL_LABEL]
    assert last(session, boss).text == texts.FIRST_APPROVER_TOLD.format(
        claim_id=claim.id,
        name=worker.name,
        rule="发现模具磨损隐患并报修",
        reason="照片里看不到模具",
    )


def test_below_the_threshold_without_flags_credits_at_once(client, session, drain):
    _manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A03")
    _approve(client, session, drain, boss)
    session.refresh(claim)
    assert claim.state == ClaimState.APPROVED and balance(session, worker.id) == 10


def test_without_a_supervisor_above_hr_gives_the_second_approval(client, session, drain):
    boss, (worker, _) = make_team(session)
    hr = make_employee(session, name="周HR", role=Role.HR)
    _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    press(client, hr, button(last_card(session, hr, "待复核申领"), "通过"))
    drain()
    assert balance(session, worker.id) == 20


def test_nobody_to_review_refuses_the_approval_and_changes_nothing(client, session, drain):
    boss, (worker, _) = make_team(session)
    claim = _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    assert last(session, boss).text == texts.NO_REVIEWER.format(approver="王主管")
    session.refresh(claim)
    assert claim.state == ClaimState.PENDING
    assert session.scalar(select(func.count(ClaimApproval.id))) == 0
    assert last_card(session, boss, "待审核申领").buttons  # still answerable once HR exists


def test_approval_card_says_a_second_approval_will_follow(client, session, drain):
    _manager, boss, worker, _ = _team_with_manager(session)
    _claim(client, session, drain, worker, "A01")
    assert last_card(session, boss, "待审核申领").note == texts.SECOND_NOTE.format(threshold=20)


def test_the_first_approver_cannot_give_the_second_approval(client, session, drain):
    boss, (worker, _) = make_team(session)
    boss.role = Role.HR  # the only HR is the first approver himself
    session.commit()
    claim = _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    assert last(session, boss).text == texts.NO_REVIEWER.format(approver="王主管")
    assert session.get(Claim, claim.id).state == ClaimState.PENDING


def _approval(session, claim, approver, points, when):
    session.add(
        ClaimApproval(
            claim_id=claim.id, stage=1, approver_id=approver.id, claimant_id=claim.employee_id,
            points=points, created_at=when,
        )
    )  # fmt: skip
    session.commit()


def test_pair_approving_each_other_within_30_days_is_held(client, session, drain, clock):
    manager, boss, worker, _ = _team_with_manager(session)
    # The worker once approved a claim of the boss (acting as a delegate), 10 days ago.
    earlier = make_claim(session, employee=boss, code="A03", state=ClaimState.APPROVED)
    _approval(session, earlier, worker, 10, clock.now() - timedelta(days=10))
    claim = _claim(client, session, drain, worker, "A03")
    _approve(client, session, drain, boss)
    assert session.get(Claim, claim.id).state == ClaimState.PENDING
    lines = last_card(session, manager, "待复核申领").lines
    assert f"· 互相审批：{worker.name} 在 30 天内也审批通过过 王主管 的申领 #{earlier.id}" in lines


def test_mutual_approval_older_than_30_days_is_not_a_signal(client, session, drain, clock):
    _manager, boss, worker, _ = _team_with_manager(session)
    earlier = make_claim(session, employee=boss, code="A03", state=ClaimState.APPROVED)
    _approval(session, earlier, worker, 10, clock.now() - timedelta(days=31))
    claim = _claim(client, session, drain, worker, "A03")
    _approve(client, session, drain, boss)
    assert session.get(Claim, claim.id).state == ClaimState.APPROVED


def test_tenth_approval_within_ten_minutes_is_held(client, session, drain, clock):
    manager, boss, worker, other = _team_with_manager(session)
    others = [make_employee(session, supervisor=boss) for _ in range(9)]
    for i, person in enumerate(others):
        done = make_claim(session, employee=person, code="C01", state=ClaimState.APPROVED)
        _approval(session, done, boss, 2, clock.now() - timedelta(minutes=9, seconds=-i))
    claim = _claim(client, session, drain, worker, "A03")
    _approve(client, session, drain, boss)
    assert session.get(Claim, claim.id).state == ClaimState.PENDING
    assert (
        "· 王主管 在 10 分钟内审批通过了 10 条申领"
        in last_card(session, manager, "待复核申领").lines
    )


def test_half_of_an_approvers_points_to_one_person_is_held(client, session, drain, clock):
    manager, boss, worker, other = _team_with_manager(session)
    for person, points in ((worker, 10), (worker, 10), (other, 10), (other, 5)):
        done = make_claim(session, employee=person, code="A03", state=ClaimState.APPROVED)
        _approval(session, done, boss, points, clock.now() - timedelta(days=3))
    claim = _claim(client, session, drain, worker, "A03")
    _approve(client, session, drain, boss)
    assert session.get(Claim, claim.id).state == ClaimState.PENDING
    lines = last_card(session, manager, "待复核申领").lines
    assert f"· 王主管 近 30 天审批的积分有 67% 给了 {worker.name}（共 5 条中的 3 条）" in lines


def test_spread_approvals_are_not_a_concentration(client, session, drain, clock):
    _manager, boss, worker, other = _team_with_manager(session)
    for _ in range(4):
        done = make_claim(session, employee=other, code="A03", state=ClaimState.APPROVED)
        _approval(session, done, boss, 10, clock.now() - timedelta(days=3))
    claim = _claim(client, session, drain, worker, "A03")
    _approve(client, session, drain, boss)
    assert session.get(Claim, claim.id).state == ClaimState.APPROVED


def _photo_taken(days_ago: int, clock, seed: int = 5) -> bytes:
    img = Image.open(io.BytesIO(photo_bytes(seed)))
    exif = Image.Exif()
    taken = (clock.now() - timedelta(days=days_ago)).strftime("%Y:%m:%d %H:%M:%S")
    exif.get_ifd(0x8769)[36867] = taken
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_photo_taken_over_7_days_before_is_flagged_on_the_card_not_refused(
    client, session, drain, clock
):
    _manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A03", data=_photo_taken(10, clock))
    assert claim is not None and claim.state == ClaimState.PENDING
    fields = {f.label: f.value for f in last_card(session, boss, "待审核申领").fields}
    assert fields[texts.PHOTO_WARNING_LABEL].endswith("早于申领 10 天")
    _approve(client, session, drain, boss)
    assert balance(session, worker.id) == 10  # shown, not held


def test_recent_photo_is_not_flagged(client, session, drain, clock):
    _manager, boss, worker, _ = _team_with_manager(session)
    _claim(client, session, drain, worker, "A03", data=_photo_taken(6, clock))
    labels = {f.label for f in last_card(session, boss, "待审核申领").fields}
    assert texts.PHOTO_WARNING_LABEL not in labels
    assert session.scalar(select(func.count(ReviewFlag.id))) == 0


def test_hr_lists_flags_and_others_are_refused(client, session, drain, clock):
    hr = make_employee(session, name="周HR", role=Role.HR)
    _manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A03", data=_photo_taken(10, clock))
    say(client, hr, "复核")
    drain()
    card = last_card(session, hr, "审批复核标记")
    assert len(card.lines) == 1 and f"#{claim.id}" in card.lines[0] and "旧照片" in card.lines[0]
    say(client, worker, "复核")
    drain()
    assert last(session, worker).text == texts.HR_ONLY


def test_review_flags_cli_lists_the_signal(client, session, drain, clock, state, tmp_path):
    _manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A03", data=_photo_taken(10, clock))
    env = {
        "DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
        "BOT_SECRET_KEY": SECRET,
        "BOT_VAR_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(cli, ["review", "flags", "--days", "3650"], env=env)
    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[0].split("\t")
    assert row[1:5] == [f"#{claim.id}", worker.employee_no, "-", "old_photo"]


def test_pending_shows_held_claims_to_the_second_approver_only(client, session, drain):
    manager, boss, worker, _ = _team_with_manager(session)
    claim = _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    say(client, boss, "待审")
    drain()
    assert last(session, boss).text == "目前没有待你审核的申领。👍"
    say(client, manager, "待审")
    drain()
    titles = [m.title for m in inbox(session, manager)[-2:]]
    assert titles[0] == texts.SECOND_PENDING_TITLE.format(total=1)
    assert titles[1] == f"待复核申领 #{claim.id}"


def test_second_approval_threshold_must_be_a_positive_integer():
    with pytest.raises(ConfigError, match="BOT_SECOND_APPROVAL_POINTS"):
        load_config({"BOT_SECRET_KEY": SECRET, "BOT_SECOND_APPROVAL_POINTS": "abc"})
    config = load_config({"BOT_SECRET_KEY": SECRET, "BOT_SECOND_APPROVAL_POINTS": "30"})
    assert config.second_approval_points == 30
    assert load_config({"BOT_SECRET_KEY": SECRET}).second_approval_points == 20


def test_a_held_claim_writes_no_ledger_entry_until_the_second_approval(client, session, drain):
    _manager, boss, worker, _ = _team_with_manager(session)
    _claim(client, session, drain, worker, "A01")
    _approve(client, session, drain, boss)
    assert session.scalar(select(func.count(LedgerEntry.id))) == 0
