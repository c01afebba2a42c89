"""The second approval (复核) of a held claim: 通过 credits it, 驳回 rejects it with a reason.

The claim stayed pending after its stage-1 approval (bot.services.claims.hold_for_review); the
second approver is the ask's owner or a delegate the engine recorded, never the claimant or
the first approver.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.errors import BotError, InvalidInput, NotAllowed
from bot.models import AuditLog, Claim, ClaimState, Employee
from bot.notices import claims as claim_notices
from bot.notices import review as texts
from bot.services import review
from bot.services.claims import ClaimContext, claim_award, credit_claim, get_claim_for_update


def _ensure_reviewable(session: Session, claim: Claim, actor: Employee) -> Employee:
    """The first approver. Raises BotError when the claim is not waiting for `actor`'s review."""
    if claim.state != ClaimState.PENDING:
        label = claim_notices.STATE_LABELS[ClaimState(claim.state)]
        raise BotError(claim_notices.NOT_PENDING.format(state=label))
    first = review.first_approval(session, claim.id)
    if first is None:
        raise NotAllowed(texts.NOT_REVIEWER)
    if actor.id in (claim.employee_id, first.approver_id):
        raise NotAllowed(texts.SELF_REVIEW)
    return first.approver


def approve_second(session: Session, claim_id: int, actor: Employee, ctx: ClaimContext) -> Claim:
    """通过 on the second approval: record it and credit the claim.

    Raises:
        BotError: not pending any more, not held, or the actor is the claimant or first approver.
    """
    claim = get_claim_for_update(session, claim_id)
    _ensure_reviewable(session, claim, actor)
    points = claim_award(session, claim).total
    review.record_approval(session, claim, actor, points, stage=2, now=ctx.now)
    return credit_claim(session, claim, actor, ctx)


def reject_second(
    session: Session, claim_id: int, actor: Employee, reason: str, ctx: ClaimContext
) -> tuple[Claim, Employee]:
    """驳回 on the second approval: the claim is rejected with the reason; the claimant and the
    first approver are told. Returns the claim and the first approver.

    Raises:
        BotError: as approve_second, or an empty reason.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(claim_notices.REASON_REQUIRED)
    claim = get_claim_for_update(session, claim_id)
    first = _ensure_reviewable(session, claim, actor)
    claim.state = ClaimState.REJECTED
    claim.decided_by, claim.decided_at, claim.reason = actor, ctx.now, reason[:500]
    session.flush()
    claim_notices.tell_claimant_rejected(session, claim, now=ctx.now, signer=ctx.signer)
    texts.tell_first_approver(session, claim, first, now=ctx.now)
    session.add(
        AuditLog(actor_id=actor.id, action="claim.reject_second", object_type="claim",
                 object_id=str(claim.id), detail={"reason": claim.reason}, created_at=ctx.now)
    )  # fmt: skip
    return claim, first
