"""Claim approval (审核) as an ask: 通过 / 驳回 with a reason, and 待审 for supervisors."""

from __future__ import annotations

from bot import asks
from bot.context import HandlerContext
from bot.notices import claims as notices
from bot.services.claims import (
    ClaimContext,
    approve_claim,
    claim_subject,
    pending_for,
    reject_claim,
)
from cards import Card, Message, Text

APPROVED_ACK = "已通过 #{claim_id}，已通知 {name}（+{points} 分）。"
REJECTED_ACK = "已驳回 #{claim_id}，已通知 {name}。"
NOTHING_PENDING = "目前没有待你审核的申领。👍"
PENDING_TITLE = "待审申领 {total} 条"
PENDING_SHOWN = 3


def _on_answer(answer: asks.Answer) -> list[Message]:
    """通过 credits the ledger; 驳回 records the reason; both tell the claimant."""
    claim_id = int((answer.ask.subject or "claim:0").split(":")[1])
    ctx = ClaimContext(now=answer.now, tz=answer.tz, signer=answer.signer)
    if answer.choice.key == "approve":
        claim = approve_claim(answer.session, claim_id, answer.actor, ctx)
        points = claim.points_credited
        return [
            Text(APPROVED_ACK.format(claim_id=claim.id, name=claim.employee.name, points=points))
        ]
    claim = reject_claim(answer.session, claim_id, answer.actor, answer.reason or "", ctx)
    return [Text(REJECTED_ACK.format(claim_id=claim.id, name=claim.employee.name))]


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
    if not claims:
        return [Text(NOTHING_PENDING)]
    lines = tuple(
        f"#{c.id} {c.employee.name} {c.rule.code} {c.rule.title} +{c.rule.points}" for c in claims
    )
    cards: list[Message] = [Card(title=PENDING_TITLE.format(total=total), lines=lines)]
    for claim in claims[:PENDING_SHOWN]:
        ask = asks.find_live(ctx.session, claim_subject(claim.id), notices.APPROVAL_KIND)
        if ask is not None and asks.may_answer(ctx.session, ask, ctx.sender):
            cards.append(asks.show(ctx.session, ask, ctx.sender, now=ctx.now, signer=ctx.signer))
    return cards
