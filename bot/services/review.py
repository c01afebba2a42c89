"""Review of approvals (审批复核, design §15): the signals that flag an approval, and the second
approval a flagged or high-value claim needs before it credits.

Every approval act is a ClaimApproval row (stage 1 the supervisor, stage 2 the second
approver); the signals are counted on those rows at the moment of a stage-1 approval:

* mutual — the claimant approved a claim of this approver within 30 days;
* burst — this approval is the approver's 10th (or later) within 10 minutes;
* concentration — with this one, ≥ 50 % of the approver's approved points in 30 days (≥ 5
  claims) went to this claimant.

A claim worth ≥ the threshold (BOT_SECOND_APPROVAL_POINTS) is flagged `points` when it is
submitted; a photo taken more than 7 days before the claim is flagged `old_photo` there too
(shown on the approval card; it does not by itself need a second approval).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot import asks
from bot.errors import NotAllowed
from bot.models import Claim, ClaimApproval, Employee, ReviewFlag, Role
from bot.notices import review as texts
from bot.services.workcal import get_setting
from bot.signing import Signer

SECOND_APPROVAL_DEFAULT = 20
PAIR_WINDOW = timedelta(days=30)
BURST_WINDOW = timedelta(minutes=10)
BURST_COUNT = 10
SHARE_WINDOW = timedelta(days=30)
SHARE_MIN_CLAIMS = 5
SHARE_PERCENT = 50
OLD_PHOTO = timedelta(days=7)
# Signals that hold a claim for a second approval; old_photo is shown, not held.
HOLDING = ("points", "mutual", "burst", "concentration")
COLLUSION = ("mutual", "burst", "concentration")
SIGNALS = (*HOLDING, "old_photo")
REMINDER_DEFAULT = {"after_hours": 4}


def _flag(
    session: Session,
    claim: Claim,
    signal: str,
    now: datetime,
    approver: Employee | None = None,
    **detail: object,
) -> ReviewFlag:
    flag = ReviewFlag(
        claim_id=claim.id,
        signal=signal,
        detail=detail,
        approver_id=approver.id if approver else None,
        created_at=now,
    )
    flag.claim, flag.approver = claim, approver
    session.add(flag)
    return flag


def flag_submission(
    session: Session, claim: Claim, points: int, threshold: int, now: datetime
) -> list[ReviewFlag]:
    """Flags known when a claim is submitted: high value, and an old photo."""
    flags = []
    if points >= threshold:
        flags.append(_flag(session, claim, "points", now, points=points, threshold=threshold))
    evidence = claim.evidence
    if evidence is not None and evidence.taken_at is not None:
        age = claim.created_at - evidence.taken_at
        if age > OLD_PHOTO:
            flags.append(
                _flag(session, claim, "old_photo", now,
                      taken=evidence.taken_at.isoformat(), days=age.days)
            )  # fmt: skip
    session.flush()
    return flags


def photo_flag(session: Session, claim: Claim) -> ReviewFlag | None:
    """The claim's old-photo flag, if any."""
    return session.scalar(
        select(ReviewFlag).where(ReviewFlag.claim_id == claim.id, ReviewFlag.signal == "old_photo")
    )


def _collusion(
    session: Session, claim: Claim, approver: Employee, points: int, now: datetime
) -> list[ReviewFlag]:
    """The collusion signals of `approver` approving `claim` now (before its row is written)."""
    flags = []
    mutual = session.scalar(
        select(ClaimApproval.claim_id)
        .where(
            ClaimApproval.approver_id == claim.employee_id,
            ClaimApproval.claimant_id == approver.id,
            ClaimApproval.created_at >= now - PAIR_WINDOW,
        )
        .order_by(ClaimApproval.created_at.desc())
        .limit(1)
    )
    if mutual is not None:
        flags.append(_flag(session, claim, "mutual", now, approver, other_claim=mutual))
    recent = session.scalar(
        select(func.count(ClaimApproval.id)).where(
            ClaimApproval.approver_id == approver.id,
            ClaimApproval.created_at > now - BURST_WINDOW,
        )
    )
    count = int(recent or 0) + 1
    if count >= BURST_COUNT:
        minutes = int(BURST_WINDOW.total_seconds() // 60)
        flags.append(_flag(session, claim, "burst", now, approver, count=count, minutes=minutes))
    mine = ClaimApproval.claimant_id == claim.employee_id
    row = session.execute(
        select(
            func.count(ClaimApproval.id),
            func.coalesce(func.sum(ClaimApproval.points), 0),
            func.coalesce(func.sum(ClaimApproval.points).filter(mine), 0),
            func.count(ClaimApproval.id).filter(mine),
        ).where(
            ClaimApproval.approver_id == approver.id,
            ClaimApproval.created_at >= now - SHARE_WINDOW,
        )
    ).one()
    claims, total, theirs, their_claims = row[0] + 1, row[1] + points, row[2] + points, row[3] + 1
    if claims >= SHARE_MIN_CLAIMS and total > 0 and theirs * 100 >= SHARE_PERCENT * total:
        share = round(theirs * 100 / total)
        flags.append(
            _flag(session, claim, "concentration", now, approver,
                  share=share, claims=claims, mine=their_claims)
        )  # fmt: skip
    return flags


def record_approval(
    session: Session, claim: Claim, approver: Employee, points: int, *, stage: int, now: datetime
) -> list[ReviewFlag]:
    """Write one approval act; for stage 1, first compute its collusion flags. Returns the
    flags that hold the claim for a second approval (those of its submission included)."""
    if stage == 1:
        _collusion(session, claim, approver, points, now)
    session.add(
        ClaimApproval(
            claim_id=claim.id,
            stage=stage,
            approver_id=approver.id,
            claimant_id=claim.employee_id,
            points=points,
            created_at=now,
        )
    )
    session.flush()
    if stage != 1:
        return []
    return holding_flags(session, claim)


def holding_flags(session: Session, claim: Claim) -> list[ReviewFlag]:
    """The claim's flags that need a second approval, in signal order."""
    rows = session.scalars(
        select(ReviewFlag)
        .where(ReviewFlag.claim_id == claim.id, ReviewFlag.signal.in_(HOLDING))
        .options(selectinload(ReviewFlag.approver))
    )
    return sorted(rows, key=lambda f: HOLDING.index(f.signal))


def first_approval(session: Session, claim_id: int) -> ClaimApproval | None:
    """The claim's stage-1 approval, if it had one."""
    return session.scalar(
        select(ClaimApproval).where(ClaimApproval.claim_id == claim_id, ClaimApproval.stage == 1)
    )


def second_approvers(session: Session, claim: Claim, first: Employee) -> list[Employee]:
    """Who gives the second approval: the first approver's supervisor, else HR (never the
    claimant or the first approver); the first is the ask's owner."""
    excluded = {claim.employee_id, first.id}
    boss = first.supervisor
    if boss is not None and boss.active and boss.id not in excluded:
        return [boss]
    hr = session.scalars(
        select(Employee)
        .where(Employee.role == Role.HR, Employee.active.is_(True))
        .order_by(Employee.id)
    )
    return [p for p in hr if p.id not in excluded]


@dataclass(frozen=True, slots=True)
class Hold:
    """A claim held for its second approval: who decides, and why."""

    reviewers: list[Employee]
    reasons: list[str]


def hold_for_second_approval(
    session: Session,
    claim: Claim,
    first: Employee,
    flags: Sequence[ReviewFlag],
    *,
    award: str,
    now: datetime,
    tz: ZoneInfo,
    signer: Signer,
) -> Hold:
    """Open the second approval ask (the card says why).

    Raises:
        NotAllowed: nobody may give the second approval (no supervisor above, no HR).
    """
    reviewers = second_approvers(session, claim, first)
    if not reviewers:
        raise NotAllowed(texts.NO_REVIEWER.format(approver=first.name))
    reasons = [texts.reason_text(f, claim, tz) for f in flags]
    old = photo_flag(session, claim)
    if old is not None:
        reasons.append(texts.reason_text(old, claim, tz))
    hours = float(get_setting(session, "approval_reminder", REMINDER_DEFAULT)["after_hours"])
    asks.open_ask(
        session,
        kind=texts.SECOND_KIND,
        subject=f"claim:{claim.id}",
        owner=reviewers[0],
        delegates=reviewers[1:],
        title=texts.second_title(claim),
        card=texts.second_card(claim, first, now, award=award, reasons=reasons, tz=tz),
        choices=texts.second_choices(claim.id),
        now=now,
        signer=signer,
        policy="approval",
        anchor_at=now + timedelta(hours=hours),
    )
    return Hold(reviewers, reasons)


def recent_flags(session: Session, since: datetime, limit: int = 200) -> list[ReviewFlag]:
    """Flags HR looks at (collusion and old photos, not routine high value), newest first."""
    return list(
        session.scalars(
            select(ReviewFlag)
            .where(ReviewFlag.created_at >= since, ReviewFlag.signal != "points")
            .order_by(ReviewFlag.created_at.desc(), ReviewFlag.id.desc())
            .limit(limit)
            .options(
                selectinload(ReviewFlag.claim).selectinload(Claim.employee),
                selectinload(ReviewFlag.claim).selectinload(Claim.rule),
                selectinload(ReviewFlag.approver),
            )
        )
    )


def count_flags(session: Session, since: datetime) -> int:
    """How many flags recent_flags would list without a limit."""
    return int(
        session.scalar(
            select(func.count(ReviewFlag.id)).where(
                ReviewFlag.created_at >= since, ReviewFlag.signal != "points"
            )
        )
        or 0
    )
