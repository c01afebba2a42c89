"""申诉: appeal a rejected claim (the 申诉 button on the rejection card, or `申诉 <编号> <理由>`),
the reason typed after the button, the 申诉 listing, and the reviewer's 改判通过 / 维持驳回 ask."""

from __future__ import annotations

import re
from datetime import timedelta

from bot import asks
from bot.context import HandlerContext
from bot.errors import BotError, InvalidInput
from bot.models import Claim
from bot.notices import appeals as notices
from bot.outbox import close_card, current_card
from bot.services.appeals import (
    appeal_of_claim,
    appealable_claims,
    appeals_of,
    check_appealable,
    check_reason,
    credited_text,
    days_left,
    file_appeal,
    overturn_appeal,
    uphold_appeal,
)
from bot.services.claims import ClaimContext
from bot.services.conversation import forget, recall, remember
from bot.signing import Action
from bot.timeutil import local_dt
from cards import Message, Text

PENDING_REASON = "appeal_reason"
# `12 理由`, `#12，理由`, `＃12：理由`: the claim number, then the reason after any separator.
ARGS = re.compile(r"[#＃]?(?P<number>\d{1,12})(?:[\s:：,，、.。]+(?P<reason>.*))?", re.DOTALL)
REASON_WINDOW = timedelta(minutes=30)


def _on_answer(answer: asks.Answer) -> list[Message]:
    """改判通过 credits the claim; 维持驳回 records the reason; both tell the claimant."""
    appeal_id = int((answer.ask.subject or "appeal:0").split(":")[1])
    ctx = ClaimContext(now=answer.now, tz=answer.tz, signer=answer.signer)
    if answer.choice.key == "overturn":
        appeal = overturn_appeal(answer.session, appeal_id, answer.actor, ctx)
        points = credited_text(answer.session, appeal) or ""
        ack = notices.OVERTURNED_ACK.format(
            appeal_id=appeal.id, name=appeal.employee.name, points=points
        )
        return [Text(ack)]
    appeal = uphold_appeal(answer.session, appeal_id, answer.actor, answer.reason or "", ctx)
    return [Text(notices.UPHELD_ACK.format(appeal_id=appeal.id, name=appeal.employee.name))]


APPEAL_REVIEW = asks.register(
    asks.AskKind(
        notices.APPEAL_KIND,
        _on_answer,
        already_answered=notices.ALREADY_DECIDED,
        not_yours=notices.NOT_REVIEWER,
    )
)


def _stop_waiting(ctx: HandlerContext, claim_id: int, status: str) -> None:
    """No reason is awaited for this claim any more: its reason card shows `status` (unless it
    was settled already), and a reason awaited for another claim is left waiting."""
    pending = recall(ctx.session, ctx.sender.id, PENDING_REASON, now=ctx.now)
    if pending is not None and pending.get("claim_id") == claim_id:
        forget(ctx.session, ctx.sender.id, PENDING_REASON)
    card = current_card(ctx.session, notices.prompt_key(claim_id))
    if card is not None and card.status is None:
        close_card(ctx.session, notices.prompt_key(claim_id), status, now=ctx.now)


def _file(ctx: HandlerContext, claim_id: int, reason: str) -> list[Message]:
    appeal = file_appeal(
        ctx.session, ctx.sender, claim_id, reason, ctx.claims, platform=ctx.event.platform
    )
    _stop_waiting(ctx, claim_id, notices.PROMPT_FILED.format(appeal_id=appeal.id))
    claim = appeal.claim
    return [
        Text(
            notices.FILED.format(
                appeal_id=appeal.id, claim_id=claim.id, rule=f"{claim.rule.code} {claim.rule.title}",
                reviewer=appeal.reviewer.name, due=local_dt(appeal.due_at, ctx.tz),
            )
        )
    ]  # fmt: skip


def _ask_reason(ctx: HandlerContext, claim_id: int) -> list[Message]:
    """Check the claim can be appealed, then wait for the reason as the next message."""
    claim = check_appealable(ctx.session, claim_id, ctx.sender, ctx.now, ctx.tz)
    earlier = recall(ctx.session, ctx.sender.id, PENDING_REASON, now=ctx.now)
    if earlier is not None and earlier.get("claim_id") != claim.id:
        _stop_waiting(ctx, int(earlier["claim_id"]), notices.PROMPT_CANCELLED)
    remember(
        ctx.session, ctx.sender.id, PENDING_REASON, {"claim_id": claim.id},
        now=ctx.now, ttl=REASON_WINDOW,
    )  # fmt: skip
    cancel = ctx.sign(notices.CANCEL_ACTION, claim.id)
    return [notices.prompt_card(claim, cancel_value=cancel)]


def handle_appeal(ctx: HandlerContext, args: str) -> list[Message]:
    """申诉 / appeal: alone, the sender's appeals and how to appeal; `申诉 <编号>` asks for the
    reason; `申诉 <编号> <理由>` files the appeal."""
    args = args.strip()
    if not args:
        return [_listing(ctx)]
    match = ARGS.fullmatch(args)
    if match is None:
        raise InvalidInput(notices.BAD_NUMBER.format(text=args.split(" ")[0][:20]))
    claim_id, reason = int(match["number"]), match["reason"] or ""
    if not reason.strip():
        return _ask_reason(ctx, claim_id)
    return _file(ctx, claim_id, reason)


def handle_appeal_button(ctx: HandlerContext, action: Action) -> list[Message]:
    """申诉 on the rejection card or the listing: ask for the reason."""
    return _ask_reason(ctx, action.object_id)


def handle_cancel(ctx: HandlerContext, action: Action) -> list[Message]:
    """取消 on the reason card: nothing is filed."""
    return _cancel(ctx, action.object_id)


def _cancel(ctx: HandlerContext, claim_id: int) -> list[Message]:
    _stop_waiting(ctx, claim_id, notices.PROMPT_CANCELLED)
    claim = ctx.session.get(Claim, claim_id)
    if claim is not None and appeal_of_claim(ctx.session, claim_id) is not None:
        return [Text(notices.NOTHING_TO_CANCEL.format(claim_id=claim_id))]
    if claim is None or claim.decided_at is None:
        return [Text(notices.PROMPT_CANCELLED)]
    deadline = local_dt(claim.decided_at + timedelta(days=notices.WINDOW_DAYS), ctx.tz)
    return [Text(notices.CANCELLED.format(claim_id=claim_id, deadline=deadline))]


def take_reason(ctx: HandlerContext) -> list[Message] | None:
    """Text typed after 申诉: the appeal's reason (取消 cancels); None when nothing waits.

    Raises:
        BotError: the claim can no longer be appealed, or the reason is too long (it stays
        pending then, so the claimant can send a shorter one).
    """
    pending = recall(ctx.session, ctx.sender.id, PENDING_REASON, now=ctx.now)
    text = (ctx.event.text or "").strip()
    if pending is None or not text:
        return None
    claim_id = int(pending["claim_id"])
    if text.lower() in notices.CANCEL_WORDS:
        return _cancel(ctx, claim_id)
    check_reason(text)
    try:
        with ctx.session.begin_nested():
            return _file(ctx, claim_id, text)
    except BotError as exc:
        # The claim cannot be appealed any more (appealed by command meanwhile, say): stop
        # waiting, so the next message is not taken for a reason again.
        _stop_waiting(ctx, claim_id, notices.PROMPT_CANCELLED)
        return [Text(exc.user_message)]


def _listing(ctx: HandlerContext) -> Message:
    mine = [(a, credited_text(ctx.session, a)) for a in appeals_of(ctx.session, ctx.sender.id)]
    open_claims = appealable_claims(ctx.session, ctx.sender.id, ctx.now)
    buttons = [
        notices.appeal_button(c.id, ctx.sign(notices.APPEAL_ACTION, c.id)) for c in open_claims
    ]
    return notices.list_card(
        mine, [(c, days_left(c, ctx.now)) for c in open_claims], tz=ctx.tz, buttons=buttons
    )
