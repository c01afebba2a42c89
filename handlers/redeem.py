"""兑换: the rewards on offer with the sender's available points, a tap or `兑换 <编号>` holds
the cost and asks HR; HR's 批准 / 拒绝 is an ask (design §15)."""

from __future__ import annotations

from bot import asks
from bot.context import HandlerContext
from bot.models import Redemption
from bot.notices import rewards as texts
from bot.services import rewards as service
from bot.signing import Action
from cards import Button, Card, Message, Text

MAX_BUTTONS = 6  # WeCom's button_interaction card shows at most six


def rewards_card(ctx: HandlerContext) -> Message:
    """The active rewards, the sender's balance, holds and available points, a button for
    each reward they can have now."""
    rewards = service.active_rewards(ctx.session)
    if not rewards:
        return Text(texts.NO_REWARDS)
    money = service.wallet(ctx.session, ctx.sender.id)
    pending = service.pending_counts(ctx.session)
    mine = service.pending_of(ctx.session, ctx.sender.id)
    waiting = {r.reward_id for r in mine}
    lines: list[str] = []
    buttons: list[Button] = []
    for reward in rewards:
        stock = texts.stock_text(reward, pending.get(reward.id, 0))
        line = texts.LIST_LINE.format(
            code=reward.code, name=reward.title, kind=texts.KIND_LABELS.get(reward.kind, "-"),
            cost=reward.cost, stock=stock,
        )  # fmt: skip
        if stock == texts.SOLD_OUT:
            lines.append(line)
            continue
        if reward.cost > money.available:
            lines.append(f"{line}（{texts.TOO_DEAR}）")
            continue
        lines.append(line)
        if reward.id not in waiting and len(buttons) < MAX_BUTTONS:
            label = texts.BUTTON.format(code=reward.code, name=reward.title, cost=reward.cost)
            buttons.append(Button(label, ctx.sign("redeem", reward.id, str(reward.cost))))
    if mine:
        lines.append(texts.PENDING_HEADER)
        lines += [
            texts.PENDING_LINE.format(code=r.reward.code, name=r.reward.title, cost=r.cost)
            for r in mine
        ]
    return Card(
        title=texts.LIST_TITLE,
        fields=texts.wallet_fields(money.balance, money.held),
        lines=tuple(lines),
        buttons=tuple(buttons),
        note=texts.LIST_NOTE,
    )


def _requested(ctx: HandlerContext, redemption: Redemption) -> Text:
    ask = asks.find_live(ctx.session, service.redemption_subject(redemption.id))
    money = service.wallet(ctx.session, ctx.sender.id)
    return Text(
        texts.REQUESTED.format(
            code=redemption.reward.code, name=redemption.reward.title, cost=redemption.cost,
            approver=ask.owner.name if ask is not None else "HR", available=money.available,
        )
    )  # fmt: skip


def handle_redeem(ctx: HandlerContext, args: str) -> list[Message]:
    """兑换 / redeem: the list; `兑换 R01` requests that reward."""
    code = args.strip().split(" ")[0] if args.strip() else ""
    if not code:
        return [rewards_card(ctx)]
    reward = service.find_reward(ctx.session, code)
    redemption = service.request_redemption(
        ctx.session, ctx.sender, reward.id, now=ctx.now, tz=ctx.tz, signer=ctx.signer
    )
    return [_requested(ctx, redemption)]


def handle_redeem_button(ctx: HandlerContext, action: Action) -> list[Message]:
    """A tap on a reward of the list (its price travels in the button)."""
    try:
        expected = int(action.arg)
    except ValueError:
        expected = None
    redemption = service.request_redemption(
        ctx.session, ctx.sender, action.object_id, now=ctx.now, tz=ctx.tz, signer=ctx.signer,
        expected_cost=expected,
    )  # fmt: skip
    return [_requested(ctx, redemption)]


def _on_answer(answer: asks.Answer) -> list[Message]:
    """批准 debits and takes stock; 拒绝 releases the hold; both tell the person."""
    redemption_id = int((answer.ask.subject or "redemption:0").split(":")[1])
    if answer.choice.key == "approve":
        r = service.approve_redemption(answer.session, redemption_id, answer.actor, now=answer.now)
        text = texts.APPROVED_ACK.format(
            id=r.id, name=r.employee.name, item=r.reward.title, cost=r.cost
        )
        return [Text(text)]
    r = service.reject_redemption(
        answer.session, redemption_id, answer.actor, answer.reason or "", now=answer.now
    )
    return [Text(texts.REJECTED_ACK.format(id=r.id, name=r.employee.name, item=r.reward.title))]


REDEMPTION_APPROVAL = asks.register(
    asks.AskKind(
        texts.APPROVAL_KIND,
        _on_answer,
        already_answered=texts.ALREADY_DECIDED,
        not_yours=texts.NOT_HR,
    )
)
