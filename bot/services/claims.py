"""Claims (申领): submit under a rule with evidence, decide as the supervisor, credit the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound
from bot.models import (
    AuditLog,
    Campaign,
    Claim,
    ClaimApproval,
    ClaimState,
    Employee,
    Evidence,
    Rule,
)
from bot.notices import claims as notices
from bot.notices import ledger as ledger_notices
from bot.notices import review as review_notices
from bot.services import review
from bot.services.campaigns import Award, award_for, campaigns_for
from bot.services.caps import check_caps, check_caps_at_approval, serialize_claims_of
from bot.services.evidence import find_duplicate_claim
from bot.services.ledger import append_entry, balance
from bot.services.people import approvers_of, can_approve
from bot.services.reuse import lock_photo
from bot.services.workcal import get_setting
from bot.signing import Signer

REMINDER_DEFAULT = {"after_hours": 4}


@dataclass(frozen=True, slots=True)
class ClaimContext:
    """What the claim service needs besides the session."""

    now: datetime
    tz: ZoneInfo
    signer: Signer
    second_approval_points: int = review.SECOND_APPROVAL_DEFAULT


def find_rule(session: Session, code: str) -> Rule:
    """An active rule by code (case-insensitive).

    Raises:
        NotFound / InvalidInput: unknown or inactive code.
    """
    rule = session.scalar(select(Rule).where(func.upper(Rule.code) == code.strip().upper()))
    if rule is None:
        raise NotFound(notices.UNKNOWN_RULE.format(code=code.strip()[:20]))
    if not rule.active:
        raise InvalidInput(notices.RULE_INACTIVE.format(code=rule.code))
    return rule


def likely_rules(session: Session, employee: Employee, limit: int = 6) -> list[Rule]:
    """Rules to offer after a photo: the employee's most used, then their department's, then
    the rest (photo rules first, by grade and category)."""

    def most_used(*conditions: object) -> list[int]:
        rows = session.execute(
            select(Claim.rule_id)
            .join(Employee, Employee.id == Claim.employee_id)
            .where(*conditions)
            .group_by(Claim.rule_id)
            .order_by(func.count(Claim.id).desc(), Claim.rule_id)
            .limit(limit)
        )
        return [row.rule_id for row in rows]

    rules = {r.id: r for r in session.scalars(select(Rule).where(Rule.active.is_(True)))}
    ids = most_used(Claim.employee_id == employee.id)
    if employee.department_id is not None:
        ids += most_used(Employee.department_id == employee.department_id)
    ordered: list[Rule] = []
    for rule_id in ids:
        if rule_id in rules and rules[rule_id] not in ordered:
            ordered.append(rules[rule_id])
    rest = sorted(
        (r for r in rules.values() if r not in ordered),
        key=lambda r: (not r.evidence_required, r.grade, r.code),
    )
    return (ordered + rest)[:limit]


def active_campaigns(session: Session, rule: Rule, when: datetime) -> list[Campaign]:
    """Campaigns whose bonus applies to a claim made at `when` under `rule`."""
    return campaigns_for(session, rule, when)


def claim_award(session: Session, claim: Claim) -> Award:
    """What the claim earns: base points and the bonuses of the campaigns it was made in."""
    return award_for(session, claim.rule, claim.created_at)


def claim_points(session: Session, claim: Claim) -> int:
    """Base points plus campaign bonuses the claim would earn."""
    return claim_award(session, claim).total


def check_evidence(session: Session, employee: Employee, evidence: Evidence, tz: ZoneInfo) -> None:
    """Raises NotAllowed when the photo is someone else's, InvalidInput when it (or a copy of
    it) already backs a pending or approved claim: a photo backs one claim."""
    if evidence.employee_id != employee.id:
        raise NotAllowed(notices.NOT_YOUR_PHOTO)
    earlier = find_duplicate_claim(session, evidence)
    if earlier is not None:
        raise InvalidInput(notices.duplicate_photo(earlier, evidence.id, tz=tz))


def check_photo_at_approval(session: Session, claim: Claim, tz: ZoneInfo) -> None:
    """Raises InvalidInput when the claim's photo (or a copy) backs a claim made before it."""
    if claim.evidence is None:
        return
    earlier = find_duplicate_claim(session, claim.evidence, exclude_claim_id=claim.id)
    if earlier is not None and (earlier.created_at, earlier.id) < (claim.created_at, claim.id):
        raise InvalidInput(notices.photo_already_used(claim, earlier, tz=tz))


def submit_claim(
    session: Session,
    employee: Employee,
    rule: Rule,
    ctx: ClaimContext,
    *,
    evidence: Evidence | None = None,
    note: str | None = None,
    platform: str | None = None,
) -> Claim:
    """Create a pending claim and ask the supervisor (and their delegate) to decide it.

    The approval ask reminds the approver once the claim has waited
    `approval_reminder.after_hours` (settings, 4 h by default), then copies their supervisor
    (policy `approval`).

    Raises:
        BotError subclasses, before anything changes: inactive rule, missing or reused photo,
        cap reached, no supervisor.
    """
    if not rule.active:
        raise InvalidInput(notices.RULE_INACTIVE.format(code=rule.code))
    if rule.evidence_required and evidence is None:
        raise InvalidInput(notices.EVIDENCE_REQUIRED.format(rule=rule.title))
    serialize_claims_of(session, employee)
    if evidence is not None:
        lock_photo(session, evidence)
        check_evidence(session, employee, evidence, ctx.tz)
    check_caps(session, employee, rule, ctx.now, ctx.tz)
    approvers = approvers_of(employee)
    if not approvers:
        raise NotAllowed(notices.NO_SUPERVISOR)
    claim = Claim(
        employee=employee,
        rule=rule,
        evidence=evidence,
        note=(note or "").strip()[:500] or None,
        state=ClaimState.PENDING,
        approver=approvers[0],
        platform=platform,
        created_at=ctx.now,
    )
    session.add(claim)
    session.flush()
    award = claim_award(session, claim)
    flags = review.flag_submission(session, claim, award.total, ctx.second_approval_points, ctx.now)
    hours = float(get_setting(session, "approval_reminder", REMINDER_DEFAULT)["after_hours"])
    asks.open_ask(
        session,
        kind=notices.APPROVAL_KIND,
        subject=claim_subject(claim.id),
        owner=approvers[0],
        delegates=approvers[1:],
        title=notices.approval_title(claim, rule, employee),
        card=notices.approval_card(claim, rule, employee, tz=ctx.tz, award=award, flags=flags),
        choices=notices.approval_choices(claim.id),
        now=ctx.now,
        signer=ctx.signer,
        policy="approval",
        anchor_at=ctx.now + timedelta(hours=hours),
    )
    _audit(session, employee, "claim.submit", claim, {"rule": rule.code}, ctx.now)
    return claim


def claim_subject(claim_id: int) -> str:
    """The subject of a claim's approval ask."""
    return f"claim:{claim_id}"


def get_claim_for_update(session: Session, claim_id: int) -> Claim:
    """Lock and return a claim. Raises NotFound."""
    claim = session.get(Claim, claim_id, with_for_update=True, populate_existing=True)
    if claim is None:
        raise NotFound(notices.UNKNOWN_CLAIM)
    return claim


def ensure_decidable(claim: Claim, actor: Employee) -> None:
    """Raises BotError when the claim is no longer pending or the actor may not decide it."""
    if claim.state != ClaimState.PENDING:
        raise BotError(
            notices.NOT_PENDING.format(state=notices.STATE_LABELS[ClaimState(claim.state)])
        )
    if claim.employee_id == actor.id:
        raise NotAllowed(notices.SELF_APPROVAL)
    if not can_approve(actor, claim.employee):
        raise NotAllowed(notices.NOT_YOUR_CLAIM.format(name=claim.employee.name))


def approve_claim(session: Session, claim_id: int, actor: Employee, ctx: ClaimContext) -> Claim:
    """Approve: credit base points and campaign bonuses and tell the claimant; or, when the
    claim is flagged or worth the second-approval threshold, hold it for a second approval
    (the claim stays pending; see bot.services.review).

    Raises:
        BotError: no longer pending, not the approver, own claim, already approved once, or
        nobody to give the second approval; LimitReached or InvalidInput when crediting would
        pass a cap or the photo backs an earlier claim (the claim stays pending: the approver
        rejects it with a reason, or HR corrects the cap).
    """
    claim = get_claim_for_update(session, claim_id)
    ensure_decidable(claim, actor)
    _check_creditable(session, claim, ctx)
    award = claim_award(session, claim)
    if hold_for_review(session, claim, actor, award, ctx):
        return claim
    return credit_claim(session, claim, actor, ctx)


def _check_creditable(session: Session, claim: Claim, ctx: ClaimContext) -> None:
    """One claimant's claims one at a time; then caps and the photo, as they stand now."""
    serialize_claims_of(session, claim.employee)
    check_caps_at_approval(session, claim, ctx.tz)
    check_photo_at_approval(session, claim, ctx.tz)


def hold_for_review(
    session: Session, claim: Claim, actor: Employee, award: Award, ctx: ClaimContext
) -> bool:
    """Record the stage-1 approval; True when the claim now waits for a second approval."""
    if review.first_approval(session, claim.id) is not None:
        raise BotError(review_notices.AWAITING_SECOND.format(name=claim.employee.name))
    flags = review.record_approval(session, claim, actor, award.total, stage=1, now=ctx.now)
    if not flags:
        return False
    hold = review.hold_for_second_approval(
        session, claim, actor, flags, award=award.text(), now=ctx.now, tz=ctx.tz,
        signer=ctx.signer,
    )  # fmt: skip
    notices.tell_claimant_held(session, claim, actor, hold.reviewers[0], award, now=ctx.now)
    _audit(session, actor, "claim.approve_first", claim,
           {"points": award.total, "signals": [f.signal for f in flags]}, ctx.now)  # fmt: skip
    return True


def credit_claim(
    session: Session, claim: Claim, actor: Employee, ctx: ClaimContext, *, tell: bool = True
) -> Claim:
    """Credit an approved claim (base points, then each campaign's bonus) and, with `tell`,
    tell the claimant; `actor` is who decided last.

    Caps and the photo's uniqueness are checked again here, in the transaction that credits,
    whichever approval (first, second, or an implemented suggestion) gets here.

    Raises:
        LimitReached, InvalidInput: a cap would be passed, or the photo backs an earlier claim.
    """
    _check_creditable(session, claim, ctx)
    rule = claim.rule
    total = 0
    entry = append_entry(
        session,
        claim.employee,
        rule.points,
        kind="claim",
        memo=f"{rule.code} {rule.title}",
        now=ctx.now,
        category=rule.category,
        claim_id=claim.id,
        rule_id=rule.id,
        created_by_id=actor.id,
    )
    total += entry.points
    for campaign in active_campaigns(session, rule, claim.created_at):
        bonus = append_entry(
            session,
            claim.employee,
            campaign.bonus_points,
            kind="bonus",
            memo=ledger_notices.CAMPAIGN_MEMO.format(campaign=campaign.name),
            now=ctx.now,
            category=rule.category,
            claim_id=claim.id,
            rule_id=rule.id,
            campaign_id=campaign.id,
            created_by_id=actor.id,
        )
        total += bonus.points
    claim.state = ClaimState.APPROVED
    claim.decided_by, claim.decided_at, claim.points_credited = actor, ctx.now, total
    session.flush()
    if tell:
        notices.tell_claimant_approved(
            session, claim, award=claim_award(session, claim),
            balance=balance(session, claim.employee_id), now=ctx.now,
        )  # fmt: skip
    _audit(session, actor, "claim.approve", claim, {"points": total}, ctx.now)
    return claim


def reject_claim(
    session: Session, claim_id: int, actor: Employee, reason: str, ctx: ClaimContext
) -> Claim:
    """Reject with a reason and tell the claimant.

    Raises:
        BotError: no longer pending, not the approver, empty reason.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(notices.REASON_REQUIRED)
    claim = get_claim_for_update(session, claim_id)
    ensure_decidable(claim, actor)
    claim.state = ClaimState.REJECTED
    claim.decided_by, claim.decided_at, claim.reason = actor, ctx.now, reason[:500]
    session.flush()
    notices.tell_claimant_rejected(session, claim, now=ctx.now, signer=ctx.signer)
    _audit(session, actor, "claim.reject", claim, {"reason": claim.reason}, ctx.now)
    return claim


def pending_for(session: Session, approver: Employee, limit: int = 10) -> tuple[list[Claim], int]:
    """Pending claims this person may decide (oldest first) and their total count."""
    reports = select(Employee.id).where(
        (Employee.supervisor_id == approver.id)
        | Employee.supervisor_id.in_(select(Employee.id).where(Employee.delegate_id == approver.id))
    )
    query = select(Claim).where(
        Claim.state == ClaimState.PENDING,
        Claim.employee_id.in_(reports),
        Claim.employee_id != approver.id,
        ~select(ClaimApproval.id).where(ClaimApproval.claim_id == Claim.id).exists(),
    )
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    claims = list(session.scalars(query.order_by(Claim.created_at, Claim.id).limit(limit)))
    return claims, total


def _audit(
    session: Session, actor: Employee, action: str, claim: Claim, detail: dict, now: datetime
) -> None:
    session.add(
        AuditLog(
            actor_id=actor.id,
            action=action,
            object_type="claim",
            object_id=str(claim.id),
            detail=detail,
            created_at=now,
        )
    )
