"""Claim approval (审核) as an ask: 通过 / 驳回 with a reason, and 待审 for supervisors."""

from __future__ import annotations

from bot import asks
from bot.context import HandlerContext
from bot.models import Claim, ClaimState
from bot.notices import claims as notices
from bot.notices import review as review_notices
from bot.services import review
from bot.services.claims import (
    ClaimContext,
    approve_claim,
    claim_award,
    claim_subject,
    pending_for,
    reject_claim,
)
from bot.services.second_approval import approve_second, reject_second
from cards import Card, Message, Text

APPROVED_ACK = "已通过 #{claim_id}，已通知 {name}（{award}）。"
REJECTED_ACK = "已驳回 #{claim_id}，已通知 {name}。"
NOTHING_PENDING = "目前没有待你审核的申领。👍"
PENDING_TITLE = "待审申领 {total} 条"
PENDING_SHOWN = 3


def _on_answer(answer: asks.Answer) -> list[Message]:
    """通过 credits the ledger; 驳回 records the reason; both tell the claimant."""
    claim_id = int((answer.ask.subject or "claim:0").split(":")[1])
    ctx = _claim_context(answer)
    if answer.choice.key == "approve":
        claim = approve_claim(answer.session, claim_id, answer.actor, ctx)
        award = claim_award(answer.session, claim).text()
        if claim.state == ClaimState.PENDING:
            return [_held_ack(answer, claim.id, award)]
        return [Text(APPROVED_ACK.format(claim_id=claim.id, name=claim.employee.name, award=award))]
    claim = reject_claim(answer.session, claim_id, answer.actor, answer.reason or "", ctx)
    return [Text(REJECTED_ACK.format(claim_id=claim.id, name=claim.employee.name))]


def _claim_context(answer: asks.Answer) -> ClaimContext:
    return ClaimContext(now=answer.now, tz=answer.tz, signer=answer.signer)


def _held_ack(answer: asks.Answer, claim_id: int, award: str) -> Text:
    """初审通过: who gives the second approval, and why."""
    session = answer.session
    second = asks.find_live(session, claim_subject(claim_id), review_notices.SECOND_KIND)
    name = second.owner.name if second is not None else "-"
    claim = session.get(Claim, claim_id)
    flags = review.holding_flags(session, claim) if claim is not None else []
    why = "；".join(review_notices.reason_text(f, claim, answer.tz) for f in flags)
    text = review_notices.HELD_ACK.format(claim_id=claim_id, award=award, second=name, why=why)
    return Text(text)


def _on_second_answer(answer: asks.Answer) -> list[Message]:
    """复核 通过 credits the held claim; 驳回 rejects it and tells claimant and first approver."""
    claim_id = int((answer.ask.subject or "claim:0").split(":")[1])
    ctx = _claim_context(answer)
    if answer.choice.key == "approve":
        claim = approve_second(answer.session, claim_id, answer.actor, ctx)
        award = claim_award(answer.session, claim).text()
        text = review_notices.SECOND_APPROVED_ACK.format(
            claim_id=claim.id, name=claim.employee.name, award=award
        )
        return [Text(text)]
    claim, first = reject_second(answer.session, claim_id, answer.actor, answer.reason or "", ctx)
    text = review_notices.SECOND_REJECTED_ACK.format(
        claim_id=claim.id, name=claim.employee.name, approver=first.name
    )
    return [Text(text)]


SECOND_APPROVAL = asks.register(
    asks.AskKind(
        review_notices.SECOND_KIND,
        _on_second_answer,
        already_answered=review_notices.ALREADY_REVIEWED,
        not_yours=review_notices.NOT_REVIEWER,
    )
)
CLAIM_APPROVAL = asks.register(
    asks.AskKind(
        notices.APPROVAL_KIND,
        _on_answer,
        already_answered=notices.ALREADY_DECIDED,
        not_yours=notices.NOT_APPROVER,
    )
)


def handle_pending(ctx: HandlerContext, args: str) -> list[Message]:
    """待审 / pending: a summary and the oldest approval cards, freshly signed."""
    claims, total = pending_for(ctx.session, ctx.sender, limit=10)
    second = second_approvals(ctx)
    if not claims:
        return second or [Text(NOTHING_PENDING)]
    lines = tuple(
        f"#{c.id} {c.employee.name} {c.rule.code} {c.rule.title} "
        + claim_award(ctx.session, c).short()
        for c in claims
    )
    cards: list[Message] = [Card(title=PENDING_TITLE.format(total=total), lines=lines)]
    for claim in claims[:PENDING_SHOWN]:
        ask = asks.find_live(ctx.session, claim_subject(claim.id), notices.APPROVAL_KIND)
        if ask is not None and asks.may_answer(ctx.session, ask, ctx.sender):
            cards.append(asks.show(ctx.session, ask, ctx.sender, now=ctx.now, signer=ctx.signer))
    return cards + second


def second_approvals(ctx: HandlerContext) -> list[Message]:
    """The held claims waiting for the sender's second approval, as cards to answer here."""
    waiting = [
        a
        for a in asks.open_asks_of(ctx.session, ctx.sender.id)
        if a.kind == review_notices.SECOND_KIND
    ]
    if not waiting:
        return []
    lines = tuple(f"· {a.title}" for a in waiting[:10])
    title = review_notices.SECOND_PENDING_TITLE.format(total=len(waiting))
    shown = [
        asks.show(ctx.session, a, ctx.sender, now=ctx.now, signer=ctx.signer)
        for a in waiting[:PENDING_SHOWN]
    ]
    return [Card(title=title, lines=lines), *shown]
