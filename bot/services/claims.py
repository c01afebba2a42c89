"""Claims (申领): submit under a rule with evidence, decide as the supervisor, credit the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import BotError, InvalidInput, LimitReached, NotAllowed, NotFound
from bot.models import AuditLog, Campaign, Claim, ClaimState, Employee, Evidence, Rule
from bot.notices import claims as notices
from bot.notices import ledger as ledger_notices
from bot.services.evidence import find_duplicate_claim
from bot.services.ledger import append_entry, balance
from bot.services.people import approvers_of, can_approve
from bot.services.workcal import get_setting
from bot.signing import Signer
from bot.timeutil import day_start, local_dt, week_start

COUNTED_STATES = (ClaimState.PENDING, ClaimState.APPROVED)
REMINDER_DEFAULT = {"after_hours": 4}


@dataclass(frozen=True, slots=True)
class ClaimContext:
    """What the claim service needs besides the session."""

    now: datetime
    tz: ZoneInfo
    signer: Signer


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


def _count_since(session: Session, employee_id: int, rule_id: int, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(Claim.id)).where(
                Claim.employee_id == employee_id,
                Claim.rule_id == rule_id,
                Claim.state.in_(COUNTED_STATES),
                Claim.created_at >= since,
            )
        )
        or 0
    )


def check_caps(session: Session, employee: Employee, rule: Rule, ctx: ClaimContext) -> None:
    """Raises LimitReached when a daily or weekly cap would be exceeded."""
    if rule.daily_cap is not None:
        n = _count_since(session, employee.id, rule.id, day_start(ctx.now, ctx.tz))
        if n >= rule.daily_cap:
            raise LimitReached(
                notices.DAILY_CAP.format(rule=rule.title, count=n, cap=rule.daily_cap)
            )
    if rule.weekly_cap is not None:
        n = _count_since(session, employee.id, rule.id, week_start(ctx.now, ctx.tz))
        if n >= rule.weekly_cap:
            raise LimitReached(
                notices.WEEKLY_CAP.format(rule=rule.title, count=n, cap=rule.weekly_cap)
            )


def active_campaigns(session: Session, rule: Rule, when: datetime) -> list[Campaign]:
    """Campaigns whose bonus applies to a claim made at `when` under `rule`."""
    return list(
        session.scalars(
            select(Campaign)
            .where(
                Campaign.active.is_(True),
                Campaign.starts_at <= when,
                Campaign.ends_at > when,
                (Campaign.category.is_(None)) | (Campaign.category == rule.category),
            )
            .order_by(Campaign.id)
        )
    )


def claim_points(session: Session, claim: Claim) -> int:
    """Base points plus campaign bonuses the claim would earn."""
    bonus = sum(c.bonus_points for c in active_campaigns(session, claim.rule, claim.created_at))
    return claim.rule.points + bonus


def check_evidence(session: Session, employee: Employee, evidence: Evidence, tz: ZoneInfo) -> None:
    """Raises InvalidInput when the photo is someone else's or already backs another claim."""
    if evidence.employee_id != employee.id:
        raise NotAllowed(notices.NOT_YOUR_PHOTO)
    earlier = find_duplicate_claim(session, evidence)
    if earlier is not None:
        raise InvalidInput(
            notices.DUPLICATE_PHOTO.format(
                claim_id=earlier.id,
                name=earlier.employee.name,
                time=local_dt(earlier.created_at, tz),
                rule=earlier.rule.title,
            )
        )


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
    if evidence is not None:
        check_evidence(session, employee, evidence, ctx.tz)
    check_caps(session, employee, rule, ctx)
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
    hours = float(get_setting(session, "approval_reminder", REMINDER_DEFAULT)["after_hours"])
    asks.open_ask(
        session,
        kind=notices.APPROVAL_KIND,
        subject=claim_subject(claim.id),
        owner=approvers[0],
        delegates=approvers[1:],
        title=notices.approval_title(claim, rule, employee),
        card=notices.approval_card(
            claim, rule, employee, tz=ctx.tz, points=claim_points(session, claim)
        ),
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
    """Approve: credit base points and campaign bonuses, tell the claimant.

    Raises:
        BotError: no longer pending, not the approver, own claim.
    """
    claim = get_claim_for_update(session, claim_id)
    ensure_decidable(claim, actor)
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
    notices.tell_claimant_approved(
        session, claim, points=total, balance=balance(session, claim.employee_id), now=ctx.now
    )
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
