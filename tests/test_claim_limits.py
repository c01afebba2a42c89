"""Points that cannot be farmed (防刷分): caps hold however claims arrive (at once, from several
threads and processes, or past a cap lowered before approval), and a photo backs one claim."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.errors import InvalidInput
from bot.models import Claim, ClaimState, LedgerEntry, Rule
from bot.notices import claims as notices
from bot.services.claims import ClaimContext, approve_claim
from bot.services.evidence import store_photo
from bot.services.ledger import balance
from cards import Text
from handlers.claim import PICK_TITLE
from tests.conftest import ROOT, SECRET, START, TZ
from tests.factories import make_claim, make_employee, make_team, photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo
from tests.racer import race

pytestmark = pytest.mark.timeout(300)


def claims(session) -> list[Claim]:
    session.expire_all()
    return list(session.scalars(select(Claim).order_by(Claim.id)))


def regular(session, worker):
    """A worker who has written before: handling their message changes no employee row, so
    nothing but the claim lock stands between their concurrent claims."""
    worker.last_platform = "local"
    session.commit()
    return worker


def set_daily_cap(session, code: str, cap: int) -> None:
    session.execute(update(Rule).where(Rule.code == code).values(daily_cap=cap))
    session.commit()


def photo_card(client, session, drain, worker, seed=1):
    send_photo(client, worker, photo_bytes(seed))
    drain()
    return last_card(session, worker, PICK_TITLE)


def racer_env(state) -> dict[str, str]:
    config = state.config
    return {
        **os.environ,
        "DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
        "BOT_SECRET_KEY": SECRET,
        "BOT_MEDIA_DIR": str(config.media_dir),
        "BOT_VAR_DIR": str(config.var_dir),
        "BOT_ENV": "test",
        "PYTHONPATH": str(ROOT),
    }


def race_in_processes(state, processes: int = 2, threads: int = 3) -> int:
    """Handle the recorded events in `processes` worker processes started together."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.racer", START.isoformat(), str(threads)],
            cwd=ROOT,
            env=racer_env(state),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        handled = [int(p.communicate(timeout=240)[0].strip()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs)
    return sum(handled)


# --- caps under concurrency ---


def test_six_claims_at_once_make_one_under_a_daily_cap_of_one(client, session, state, drain):
    _boss, (worker, _) = make_team(session)
    regular(session, worker)
    for _ in range(6):
        say(client, worker, "申领 B06")  # B06: no photo needed, one a day

    assert race(state, threads=6) == 6
    drain()

    assert len(claims(session)) == 1
    refused = Text(notices.DAILY_CAP.format(rule="提交合理化建议", count=1, cap=1))
    assert inbox(session, worker).count(refused) == 5


def test_claims_from_two_processes_respect_the_daily_cap(client, session, state, drain):
    _boss, (worker, _) = make_team(session)
    regular(session, worker)
    for _ in range(6):
        say(client, worker, "申领 B06")

    assert race_in_processes(state, processes=2, threads=3) == 6
    drain()

    assert len(claims(session)) == 1


def test_approval_past_a_lowered_cap_is_refused_and_the_claim_stays_pending(client, session, drain):
    boss, (worker, _) = make_team(session)
    set_daily_cap(session, "B06", 2)
    for _ in range(2):
        say(client, worker, "申领 B06")
        drain()
    set_daily_cap(session, "B06", 1)  # HR lowers the cap while both wait
    first, second = claims(session)
    cards = [last_card(session, boss, f"待审核申领 #{c.id}") for c in (first, second)]

    press(client, boss, button(cards[0], "通过"))
    drain()
    press(client, boss, button(cards[1], "通过"))
    drain()

    first, second = claims(session)
    assert (first.state, second.state) == (ClaimState.APPROVED, ClaimState.PENDING)
    assert balance(session, worker.id) == 5
    assert last(session, boss) == Text(
        notices.CAP_AT_APPROVAL.format(
            claim_id=second.id, name=worker.name, rule="提交合理化建议", period="11-26 当天",
            count=1, cap_name="每日上限", cap=1,
        )
    )  # fmt: skip
    # The card still offers 通过 / 驳回: the supervisor rejects it with a reason.
    assert [b.label for b in last_card(session, boss, f"待审核申领 #{second.id}").buttons] == [
        "通过",
        "驳回",
    ]


def test_approval_counts_only_the_claims_own_day(client, session, drain, clock):
    boss, (worker, _) = make_team(session)
    say(client, worker, "申领 B06")
    drain()
    clock.advance(days=1)
    say(client, worker, "申领 B06")
    drain()
    for claim in claims(session):
        press(client, boss, button(last_card(session, boss, f"待审核申领 #{claim.id}"), "通过"))
        drain()

    assert [c.state for c in claims(session)] == [ClaimState.APPROVED] * 2
    assert balance(session, worker.id) == 10


def two_pending_claims_over_a_lowered_cap(client, session, drain):
    """Two B06 claims waiting, one for the supervisor and one for the delegate, after HR
    lowered the daily cap to 1."""
    boss, (worker, _) = make_team(session)
    deputy = make_employee(session, name="李副主管")
    boss.delegate = deputy
    session.commit()
    set_daily_cap(session, "B06", 2)
    for _ in range(2):
        say(client, worker, "申领 B06")
        drain()
    set_daily_cap(session, "B06", 1)
    first, second = claims(session)
    press(client, boss, button(last_card(session, boss, f"待审核申领 #{first.id}"), "通过"))
    press(client, deputy, button(last_card(session, deputy, f"待审核申领 #{second.id}"), "通过"))


def test_two_approvers_at_once_credit_within_the_cap(client, session, state, drain):
    two_pending_claims_over_a_lowered_cap(client, session, drain)

    assert race(state, threads=2) == 2
    drain()

    assert sorted(c.state for c in claims(session)) == [ClaimState.APPROVED, ClaimState.PENDING]
    assert session.scalar(select(func.count(LedgerEntry.id))) == 1


def test_approvals_from_two_processes_credit_within_the_cap(client, session, state, drain):
    two_pending_claims_over_a_lowered_cap(client, session, drain)

    assert race_in_processes(state, processes=2, threads=1) == 2
    drain()

    assert sorted(c.state for c in claims(session)) == [ClaimState.APPROVED, ClaimState.PENDING]
    assert session.scalar(select(func.count(LedgerEntry.id))) == 1


# --- one photo, one claim ---


def test_second_rule_on_one_photos_card_is_refused(client, session, drain):
    _boss, (worker, _) = make_team(session)
    card = photo_card(client, session, drain, worker)

    press(client, worker, button(card, "A05"))
    drain()
    press(client, worker, button(card, "A06"))  # the same card, a second tap
    drain()

    (claim,) = claims(session)
    assert claim.rule.code == "A05"
    assert last(session, worker) == Text(
        notices.PHOTO_ALREADY_CLAIMED.format(claim_id=claim.id, rule="A05 发现并消除重大安全隐患")
    )


def test_same_rule_tapped_again_a_second_later_makes_one_claim(client, session, drain, clock):
    _boss, (worker, _) = make_team(session)
    card = photo_card(client, session, drain, worker)

    press(client, worker, button(card, "A06"))
    drain()
    clock.advance(seconds=1)
    press(client, worker, button(card, "A06"))
    drain()

    assert len(claims(session)) == 1


def test_taps_on_one_photo_at_once_make_one_claim(client, session, state, drain):
    _boss, (worker, _) = make_team(session)
    card = photo_card(client, session, drain, worker)
    for code in ("A05", "A06", "A05", "A06"):
        press(client, worker, button(card, code))

    assert race(state, threads=4) == 4
    drain()

    assert len(claims(session)) == 1


def test_taps_on_one_photo_from_two_processes_make_one_claim(client, session, state, drain):
    _boss, (worker, _) = make_team(session)
    card = photo_card(client, session, drain, worker)
    for code in ("A05", "A06", "A05", "A06"):
        press(client, worker, button(card, code))

    assert race_in_processes(state, processes=2, threads=2) == 4
    drain()

    assert len(claims(session)) == 1


def test_approving_a_second_claim_on_one_photo_is_refused(session, state, tmp_path):
    # Two claims on one photo, as the tap race left them before this fix.
    boss, (worker, _) = make_team(session)
    ev = store_photo(session, tmp_path / "m", worker, photo_bytes(5), source="x", now=START)
    earlier = make_claim(session, employee=worker, code="A05", evidence=ev)
    later = make_claim(
        session, employee=worker, code="A06", evidence=ev,
        created_at=earlier.created_at + timedelta(seconds=1),
    )  # fmt: skip
    ctx = ClaimContext(now=START, tz=TZ, signer=state.signer)

    with pytest.raises(InvalidInput) as refused:
        approve_claim(session, later.id, boss, ctx)
    session.rollback()
    approve_claim(session, earlier.id, boss, ctx)

    assert f"#{earlier.id}" in refused.value.user_message
    assert refused.value.user_message.startswith(f"申领 #{later.id} 暂不能通过")


def test_colleagues_tapping_one_forwarded_photo_at_once_make_one_claim(
    client, session, state, drain
):
    _boss, (worker, colleague) = make_team(session)
    cards = [photo_card(client, session, drain, who, seed=8) for who in (worker, colleague)]
    for who, card in zip((worker, colleague), cards, strict=True):
        regular(session, who)
        press(client, who, button(card, "A05"))

    assert race(state, threads=2) == 2
    drain()

    assert len(claims(session)) == 1
