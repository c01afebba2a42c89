"""通过 / 驳回 on approval cards, the rejection reason, and 待审 for supervisors."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.context import HandlerContext
from bot.errors import InvalidInput
from bot.models import Claim
from bot.notices import claims as notices
from bot.outbox import close_card
from bot.services.claims import (
    approve_claim,
    claim_points,
    ensure_decidable,
    get_claim_for_update,
    pending_for,
    reject_claim,
)
from bot.services.conversation import forget, recall, remember
from bot.signing import Action
from cards import Card, Message, Text

AWAITING_REASON = "awaiting_reason"
REASON_WINDOW = timedelta(minutes=30)
APPROVED_ACK = "已通过 #{claim_id}，已通知 {name}（+{points} 分）。"
REJECTED_ACK = "已驳回 #{claim_id}，已通知 {name}。"
REJECT_CANCELLED = "已取消驳回，申领 #{claim_id} 仍待审核。"
NOTHING_PENDING = "目前没有待你审核的申领。👍"
PENDING_TITLE = "待审申领 {total} 条"
PENDING_SHOWN = 3


def handle_approve(ctx: HandlerContext, action: Action) -> list[Message]:
    """通过."""
    claim = approve_claim(ctx.session, action.object_id, ctx.sender, ctx.claims)
    forget(ctx.session, ctx.sender.id, AWAITING_REASON)
    return [
        Text(
            APPROVED_ACK.format(
                claim_id=claim.id, name=claim.employee.name, points=claim.points_credited
            )
        )
    ]


def handle_reject(ctx: HandlerContext, action: Action) -> list[Message]:
    """驳回: ask for a reason (quick buttons, or any typed text)."""
    claim = get_claim_for_update(ctx.session, action.object_id)
    ensure_decidable(claim, ctx.sender, ctx.tz)
    remember(
        ctx.session,
        ctx.sender.id,
        AWAITING_REASON,
        {"claim_id": claim.id},
        now=ctx.now,
        ttl=REASON_WINDOW,
    )
    return [notices.reason_card(claim, ctx.sender, signer=ctx.signer, now=ctx.now)]


def _reject(ctx: HandlerContext, claim_id: int, reason: str) -> list[Message]:
    claim = reject_claim(ctx.session, claim_id, ctx.sender, reason, ctx.claims)
    forget(ctx.session, ctx.sender.id, AWAITING_REASON)
    _close_reason_card(ctx, claim, f"已驳回 · 原因：{claim.reason}")
    return [Text(REJECTED_ACK.format(claim_id=claim.id, name=claim.employee.name))]


def _close_reason_card(ctx: HandlerContext, claim: Claim, status: str) -> None:
    close_card(ctx.session, f"reject:{claim.id}:{ctx.sender.id}", status, now=ctx.now)


def handle_reject_reason(ctx: HandlerContext, action: Action) -> list[Message]:
    """A quick-reason button on the reason card."""
    try:
        reason = notices.REJECT_REASONS[int(action.arg)]
    except (ValueError, IndexError):
        raise InvalidInput("请选择有效的驳回原因。") from None
    return _reject(ctx, action.object_id, reason)


def handle_reject_cancel(ctx: HandlerContext, action: Action) -> list[Message]:
    """取消 on the reason card."""
    forget(ctx.session, ctx.sender.id, AWAITING_REASON)
    claim = ctx.session.get(Claim, action.object_id)
    if claim is not None:
        _close_reason_card(ctx, claim, "已取消")
    return [Text(REJECT_CANCELLED.format(claim_id=action.object_id))]


def awaiting_reason(ctx: HandlerContext) -> int | None:
    """The claim id whose rejection reason the sender is typing, if any."""
    state = recall(ctx.session, ctx.sender.id, AWAITING_REASON, now=ctx.now)
    return int(state["claim_id"]) if state else None


def handle_reason_text(ctx: HandlerContext, claim_id: int, text: str) -> list[Message]:
    """Typed text while a reason is awaited."""
    return _reject(ctx, claim_id, text)


def handle_pending(ctx: HandlerContext, args: str) -> list[Message]:
    """待审 / pending: a summary and the oldest approval cards, freshly signed."""
    claims, total = pending_for(ctx.session, ctx.sender, limit=10)
    if not claims:
        return [Text(NOTHING_PENDING)]
    lines = tuple(
        f"#{c.id} {c.employee.name} {c.rule.code} {c.rule.title} +{c.rule.points}" for c in claims
    )
    summary = Card(title=PENDING_TITLE.format(total=total), lines=lines)
    cards: list[Message] = [summary]
    for claim in claims[:PENDING_SHOWN]:
        card = notices.approval_card(
            claim,
            claim.rule,
            claim.employee,
            ctx.sender,
            tz=ctx.tz,
            signer=ctx.signer,
            now=ctx.now,
            points=claim_points(ctx.session, claim),
        )
        if claim.approver_id != ctx.sender.id:
            card = replace(card, key=f"{card.key}:{ctx.sender.id}")
        cards.append(card)
    return cards
