"""Appeals (申诉) of rejected claims: who may appeal what, the review ask, and its outcome.

One appeal per claim (appeals.claim_id is unique), by the claimant, within WINDOW_DAYS of the
rejection. The ask goes to the rejecter's supervisor (and their delegate), else to HR, else to
admins, never to the claimant or the rejecter; it is due REVIEW_WORKDAYS workdays later on the
workday calendar, and the `appeal` policy reminds the reviewer a day before and hands the ask
to HR at the due time (HR may answer it then).

改判通过 credits what the claim would have earned when it was made (base points and the
campaign bonuses that applied then), as ledger entries that carry the claim's id and kind
`appeal` (bonuses: `bonus`) and name the appeal in their memo: all hashed fields, so a proof
or `ledger verify` covers the link. The appeal keeps its base entry's id. Both ways:
`appeal_entries(appeal)` and `appeal_of_entry(entry)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound
from bot.models import (
    Appeal,
    AppealState,
    AuditLog,
    Campaign,
    Claim,
    ClaimState,
    Employee,
    LedgerEntry,
    Role,
)
from bot.notices import appeals as notices
from bot.services.claims import ClaimContext, active_campaigns
from bot.services.ledger import append_entry, balance
from bot.services.workcal import load_calendar
from bot.timeutil import local_dt

APPEAL_WINDOW = timedelta(days=notices.WINDOW_DAYS)
REVIEW_WORKDAYS = 3
HISTORY_DAYS = 90
REMIND_BEFORE = timedelta(days=1)  # the policy's first step: the reviewer, a day before due
REASON_MAX = 500
ENTRY_KIND = "appeal"
BONUS_KIND = "bonus"


def appeal_subject(appeal_id: int) -> str:
    """The subject of an appeal's review ask."""
    return f"appeal:{appeal_id}"


def appeal_of_claim(session: Session, claim_id: int) -> Appeal | None:
    """The claim's appeal, if it has one."""
    return session.scalar(select(Appeal).where(Appeal.claim_id == claim_id))


def days_left(claim: Claim, now: datetime) -> int:
    """Days left to appeal a rejected claim, counting a part day as one (1 on its last day)."""
    assert claim.decided_at is not None
    return max(math.ceil((claim.decided_at + APPEAL_WINDOW - now) / timedelta(days=1)), 0)


def check_appealable(
    session: Session, claim_id: int, employee: Employee, now: datetime, tz: ZoneInfo
) -> Claim:
    """Lock and return the claim when `employee` may appeal it now.

    Raises:
        BotError subclasses, naming why: unknown claim, someone else's, appealed already,
        approved, still pending, withdrawn, or rejected more than WINDOW_DAYS ago.
    """
    claim = session.get(Claim, claim_id, with_for_update=True, populate_existing=True)
    if claim is None:
        raise NotFound(notices.NOT_FOUND.format(claim_id=claim_id))
    if claim.employee_id != employee.id:
        raise NotAllowed(notices.NOT_YOURS.format(claim_id=claim_id))
    earlier = appeal_of_claim(session, claim.id)
    if earlier is not None:
        raise InvalidInput(
            notices.ALREADY_APPEALED.format(
                claim_id=claim.id, date=local_dt(earlier.created_at, tz), appeal_id=earlier.id,
                state=notices.STATE_LABELS[AppealState(earlier.state)],
            )
        )  # fmt: skip
    refusals = {
        ClaimState.APPROVED: notices.ALREADY_APPROVED,
        ClaimState.PENDING: notices.STILL_PENDING,
        ClaimState.WITHDRAWN: notices.WITHDRAWN,
    }
    if claim.state in refusals:
        raise InvalidInput(refusals[ClaimState(claim.state)].format(claim_id=claim.id))
    if claim.decided_at is None or claim.decided_at + APPEAL_WINDOW < now:
        when = local_dt(claim.decided_at or claim.created_at, tz)
        raise InvalidInput(notices.TOO_LATE.format(claim_id=claim.id, date=when))
    return claim


def check_reason(reason: str) -> str:
    """The appeal's reason, stripped. Raises InvalidInput when empty or too long."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(notices.REASON_REQUIRED)
    if len(reason) > REASON_MAX:
        raise InvalidInput(notices.REASON_TOO_LONG.format(length=len(reason), limit=REASON_MAX))
    return reason


def reviewers_for(session: Session, claim: Claim) -> list[Employee]:
    """Who reviews an appeal of `claim`: the rejecter's supervisor (and that supervisor's
    delegate), else every HR employee, else every admin; never the claimant or the rejecter."""
    rejecter = claim.decided_by
    excluded = {claim.employee_id, rejecter.id if rejecter else None}

    def usable(people: list[Employee | None]) -> list[Employee]:
        return [p for p in people if p is not None and p.active and p.id not in excluded]

    boss = rejecter.supervisor if rejecter is not None else None
    people = usable([boss, boss.delegate if boss is not None else None])
    if people:
        return people
    for role in (Role.HR, Role.ADMIN):
        people = usable(
            list(
                session.scalars(select(Employee).where(Employee.role == role).order_by(Employee.id))
            )
        )
        if people:
            return people
    return []


def rule_history(session: Session, claim: Claim, now: datetime) -> str:
    """The claimant's other claims under the claim's rule in the last HISTORY_DAYS, and their
    appeals then, as the reviewer's card shows them."""
    since = now - timedelta(days=HISTORY_DAYS)
    counts = dict(
        session.execute(
            select(Claim.state, func.count(Claim.id))
            .where(Claim.employee_id == claim.employee_id, Claim.rule_id == claim.rule_id,
                   Claim.created_at >= since, Claim.id != claim.id)
            .group_by(Claim.state)
        ).all()
    )  # fmt: skip
    appeals = session.scalar(
        select(func.count(Appeal.id)).where(
            Appeal.employee_id == claim.employee_id,
            Appeal.created_at >= since,
            Appeal.claim_id != claim.id,
        )
    )
    return notices.history_text(
        HISTORY_DAYS, counts.get(ClaimState.APPROVED, 0), counts.get(ClaimState.REJECTED, 0),
        int(appeals or 0),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Award:
    """What an overturn credits: base points and each campaign's bonus (name, points)."""

    base: int
    bonuses: tuple[tuple[Campaign, int], ...]

    @property
    def total(self) -> int:
        """Base plus bonuses."""
        return self.base + sum(points for _c, points in self.bonuses)

    def text(self) -> str:
        """`+22 分（含上线推广 +2）`."""
        return notices.points_text(self.total, [(c.name, p) for c, p in self.bonuses])


def award_for(session: Session, claim: Claim) -> Award:
    """What the claim would have earned had it been approved: its rule's points and the
    bonuses of the campaigns running when it was made."""
    campaigns = active_campaigns(session, claim.rule, claim.created_at)
    return Award(claim.rule.points, tuple((c, c.bonus_points) for c in campaigns))


def file_appeal(
    session: Session,
    employee: Employee,
    claim_id: int,
    reason: str,
    ctx: ClaimContext,
    *,
    platform: str | None = None,
) -> Appeal:
    """Record an appeal of a rejected claim and ask the reviewer to decide it.

    Raises:
        BotError subclasses, before anything changes: see check_appealable and check_reason;
        NotAllowed when nobody may review it.
    """
    reason = check_reason(reason)
    claim = check_appealable(session, claim_id, employee, ctx.now, ctx.tz)
    people = reviewers_for(session, claim)
    if not people:
        raise NotAllowed(notices.NO_REVIEWER)
    calendar = load_calendar(session, ctx.tz, ctx.now.astimezone(ctx.tz).date())
    due = calendar.add_workdays(ctx.now, REVIEW_WORKDAYS)
    appeal = Appeal(
        claim=claim, employee=employee, reason=reason, state=AppealState.PENDING,
        rejected_by=claim.decided_by, rejected_at=claim.decided_at,
        rejection_reason=claim.reason, reviewer=people[0], due_at=due, platform=platform,
        created_at=ctx.now,
    )  # fmt: skip
    session.add(appeal)
    session.flush()
    asks.open_ask(
        session,
        kind=notices.APPEAL_KIND,
        subject=appeal_subject(appeal.id),
        owner=people[0],
        delegates=people[1:],
        title=notices.ask_title(appeal, claim),
        card=notices.review_card(
            appeal,
            claim,
            points=award_for(session, claim).text(),
            history=rule_history(session, claim, ctx.now),
            tz=ctx.tz,
        ),  # fmt: skip
        choices=notices.review_choices(appeal.id, employee.name),
        now=ctx.now,
        signer=ctx.signer,
        due_at=due,
        policy=notices.APPEAL_POLICY,
        anchor_at=max(due - REMIND_BEFORE, ctx.now),
        told_may_answer=True,  # HR, told at the due time, takes it over
    )
    notices.mark_filed(session, appeal, now=ctx.now, tz=ctx.tz)
    _audit(session, employee, "appeal.submit", appeal, {"claim": claim.id, "reason": reason},
           ctx.now)  # fmt: skip
    return appeal


def _lock_pending(session: Session, appeal_id: int, actor: Employee) -> Appeal:
    """Lock an appeal still waiting for review that `actor` may decide. Raises BotError."""
    appeal = session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
    if appeal is None:
        raise NotFound(notices.UNKNOWN_APPEAL)
    if appeal.state != AppealState.PENDING:
        state = notices.STATE_LABELS[AppealState(appeal.state)]
        raise BotError(notices.NOT_PENDING.format(appeal_id=appeal.id, state=state))
    if actor.id == appeal.employee_id:
        raise NotAllowed(notices.SELF_REVIEW)
    if actor.id == appeal.rejected_by_id:
        raise NotAllowed(notices.OWN_DECISION)
    return appeal


def overturn_appeal(session: Session, appeal_id: int, actor: Employee, ctx: ClaimContext) -> Appeal:
    """改判通过: credit the claim (base and campaign bonuses, linked to the appeal), approve
    it, tell the claimant and the rejecter.

    Raises:
        BotError: decided already, not allowed (own appeal or own rejection), or the claim is
        no longer rejected.
    """
    appeal = _lock_pending(session, appeal_id, actor)
    claim = session.get(Claim, appeal.claim_id, with_for_update=True, populate_existing=True)
    assert claim is not None
    if claim.state != ClaimState.REJECTED:
        raise BotError(notices.CLAIM_CHANGED.format(claim_id=claim.id))
    award = award_for(session, claim)
    rule = claim.rule
    common = {"now": ctx.now, "category": rule.category, "claim_id": claim.id,
              "rule_id": rule.id, "created_by_id": actor.id}  # fmt: skip
    memo = notices.ENTRY_MEMO.format(appeal_id=appeal.id, code=rule.code, rule=rule.title)
    entry = append_entry(session, claim.employee, award.base, kind=ENTRY_KIND, memo=memo, **common)
    for campaign, points in award.bonuses:
        memo = notices.BONUS_MEMO.format(appeal_id=appeal.id, campaign=campaign.name)
        append_entry(session, claim.employee, points, kind=BONUS_KIND, memo=memo,
                     campaign_id=campaign.id, **common)  # fmt: skip
    appeal.state, appeal.decided_by, appeal.decided_at = AppealState.OVERTURNED, actor, ctx.now
    appeal.points_credited, appeal.ledger_entry_id = award.total, entry.id
    # The claim row says what holds now; the rejection it overturns stays on the appeal.
    claim.state, claim.decided_by, claim.decided_at = ClaimState.APPROVED, actor, ctx.now
    claim.points_credited, claim.reason = award.total, None
    session.flush()
    notices.tell_overturned(
        session, appeal, claim, points=award.text(),
        balance=balance(session, claim.employee_id), now=ctx.now,
    )  # fmt: skip
    _audit(session, actor, "appeal.overturn", appeal,
           {"claim": claim.id, "points": award.total, "entry": entry.id}, ctx.now)  # fmt: skip
    return appeal


def uphold_appeal(
    session: Session, appeal_id: int, actor: Employee, reason: str, ctx: ClaimContext
) -> Appeal:
    """维持驳回 with a reason the claimant is told; nothing is credited.

    Raises:
        BotError: no reason, decided already, or not allowed.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(notices.DECISION_REASON_REQUIRED)
    appeal = _lock_pending(session, appeal_id, actor)
    appeal.state, appeal.decided_by, appeal.decided_at = AppealState.UPHELD, actor, ctx.now
    appeal.decision_reason = reason[:REASON_MAX]
    session.flush()
    notices.tell_upheld(session, appeal, appeal.claim, now=ctx.now)
    _audit(session, actor, "appeal.uphold", appeal,
           {"claim": appeal.claim_id, "reason": appeal.decision_reason}, ctx.now)  # fmt: skip
    return appeal


def appeal_entries(session: Session, appeal: Appeal) -> list[LedgerEntry]:
    """The ledger entries an overturn wrote (the claim was rejected until then, so every
    entry of the claim comes from its appeal), by seq; [] for other appeals."""
    if appeal.state != AppealState.OVERTURNED:
        return []
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.claim_id == appeal.claim_id)
            .order_by(LedgerEntry.seq)
        )
    )


def appeal_of_entry(session: Session, entry: LedgerEntry) -> Appeal | None:
    """The appeal whose overturn wrote `entry` (or whose entry it reverses), if any."""
    if entry.claim_id is None:
        return None
    return session.scalar(
        select(Appeal).where(
            Appeal.claim_id == entry.claim_id, Appeal.state == AppealState.OVERTURNED
        )
    )


def credited_text(session: Session, appeal: Appeal) -> str | None:
    """What an overturn credited, bonuses named (from its ledger entries); None otherwise."""
    entries = appeal_entries(session, appeal)
    if not entries:
        return None
    bonuses = []
    for e in entries:
        if e.kind == BONUS_KIND and e.campaign_id is not None:
            campaign = session.get(Campaign, e.campaign_id)
            bonuses.append((campaign.name if campaign else "-", e.points))
    return notices.points_text(sum(e.points for e in entries), bonuses)


def appeals_of(session: Session, employee_id: int, limit: int = 5) -> list[Appeal]:
    """The employee's appeals, newest first."""
    return list(
        session.scalars(
            select(Appeal)
            .where(Appeal.employee_id == employee_id)
            .order_by(Appeal.created_at.desc(), Appeal.id.desc())
            .limit(limit)
        )
    )


def recent_appeals(session: Session, limit: int = 100) -> list[Appeal]:
    """Every employee's appeals for HR: those waiting for review first (soonest due first),
    then the decided ones, newest first."""
    pending = session.scalars(
        select(Appeal)
        .where(Appeal.state == AppealState.PENDING)
        .order_by(Appeal.due_at, Appeal.id)
        .limit(limit)
    )
    decided = session.scalars(
        select(Appeal)
        .where(Appeal.state != AppealState.PENDING)
        .order_by(Appeal.created_at.desc(), Appeal.id.desc())
        .limit(limit)
    )
    return [*pending, *decided][:limit]


def appealable_claims(session: Session, employee_id: int, now: datetime,
                      limit: int = 3) -> list[Claim]:  # fmt: skip
    """The employee's rejected claims still open to appeal, newest rejection first."""
    return list(
        session.scalars(
            select(Claim)
            .where(
                Claim.employee_id == employee_id,
                Claim.state == ClaimState.REJECTED,
                Claim.decided_at >= now - APPEAL_WINDOW,
                ~select(Appeal.id).where(Appeal.claim_id == Claim.id).exists(),
            )
            .order_by(Claim.decided_at.desc(), Claim.id.desc())
            .limit(limit)
        )
    )


def _audit(session: Session, actor: Employee, action: str, appeal: Appeal, detail: dict,
           now: datetime) -> None:  # fmt: skip
    session.add(
        AuditLog(actor_id=actor.id, action=action, object_type="appeal",
                 object_id=str(appeal.id), detail=detail, created_at=now)
    )  # fmt: skip
