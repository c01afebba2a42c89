"""The one place that turns an Event into replies and errors into calm messages (style §5)."""

from __future__ import annotations

from collections.abc import Callable

from bot.context import HandlerContext
from bot.errors import BotError
from bot.ports import EventKind
from bot.signing import ANYONE, NOT_YOUR_BUTTON, Action, ActionRefused
from cards import Message, Text
from handlers import (
    appeals,
    approval,
    asks,
    changes,
    checkin,
    claim,
    factpack,
    help,
    likes,
    notice,
    points,
    redeem,
    review,
    skills,
    suggestion,
    surveys,
    tasks,
)

NOT_FOR_YOU = "这张卡片只能由 {name} 操作。"

CommandHandler = Callable[[HandlerContext, str], list[Message]]
ActionHandler = Callable[[HandlerContext, Action], list[Message]]

COMMANDS: dict[str, CommandHandler] = {
    "帮助": help.handle_help,
    "help": help.handle_help,
    "积分": points.handle_points,
    "points": points.handle_points,
    "排行": points.handle_rank,
    "rank": points.handle_rank,
    "申领": claim.handle_claim_command,
    "claim": claim.handle_claim_command,
    "待审": approval.handle_pending,
    "pending": approval.handle_pending,
    "任务": asks.handle_tasks,
    "tasks": asks.handle_tasks,
    "通知": notice.handle_notice,
    "notice": notice.handle_notice,
    "签到": checkin.handle_checkin,
    "checkin": checkin.handle_checkin,
    "点赞": likes.handle_like,
    "like": likes.handle_like,
    "建议": suggestion.handle_suggest,
    "suggest": suggestion.handle_suggest,
    "能力": skills.handle_skills,
    "skills": skills.handle_skills,
    "兑换": redeem.handle_redeem,
    "redeem": redeem.handle_redeem,
    "复核": review.handle_flags,
    "review": review.handle_flags,
    "面谈": factpack.handle_factpack,
    "1on1": factpack.handle_factpack,
    "变更": changes.handle_change,
    "change": changes.handle_change,
    "申诉": appeals.handle_appeal,
    "appeal": appeals.handle_appeal,
}
ACTIONS: dict[str, ActionHandler] = {
    "claim": claim.handle_claim_button,
    "redeem": redeem.handle_redeem_button,
    "suggest": suggestion.handle_suggest_button,
    "rules": claim.handle_rules_button,
    "rule_category": claim.handle_category_button,
    "claim_rule": claim.handle_rule_button,
    "ask": asks.handle_ask,
    "ask_reason": asks.handle_reason,
    "ask_cancel": asks.handle_cancel,
    "ask_ack": asks.handle_ack,
    "ask_shared": asks.handle_shared,
    "appeal": appeals.handle_appeal_button,
    "appeal_cancel": appeals.handle_cancel,
    **dict.fromkeys(asks.LEGACY, asks.handle_legacy),
}
# Buttons on cards many people share (signed for ANYONE): the handler checks the presser.
SHARED_ACTIONS = frozenset({"ask_shared"})
# Feature modules whose ask kinds must be registered before any answer arrives.
KIND_MODULES = (approval, tasks, notice, checkin, redeem, suggestion, surveys, changes, appeals)


def split_command(text: str) -> tuple[str, str]:
    """(`command`, `args`) from chat text; strips an @mention and full-width spaces."""
    text = text.replace("\u3000", " ").strip()
    if text.startswith("@"):
        text = text.partition(" ")[2].strip()
    word, _, args = text.partition(" ")
    return word.lower() if word.isascii() else word, args.strip()


def _on_text(ctx: HandlerContext) -> list[Message]:
    word, args = split_command(ctx.event.text)
    handler = COMMANDS.get(word)
    if handler is not None:
        return handler(ctx, args)
    answered = asks.take_text(ctx)
    if answered is None:
        answered = appeals.take_reason(ctx)
    if answered is not None:
        return answered
    drafted = suggestion.take_draft(ctx)
    if drafted is not None:
        return drafted
    return [help.help_card(ctx, unknown=ctx.event.text.strip() or None)]


def _on_action(ctx: HandlerContext) -> list[Message]:
    action = ctx.signer.verify(ctx.event.action_value or "", ctx.now)
    shared = action.actor_id == ANYONE and action.name in SHARED_ACTIONS
    if action.actor_id != ctx.sender.id and not shared:
        raise ActionRefused(NOT_YOUR_BUTTON)
    handler = ACTIONS.get(action.name)
    if handler is None:
        raise ActionRefused()
    return handler(ctx, action)


def _on_image(ctx: HandlerContext) -> list[Message]:
    answered = asks.take_photo(ctx)
    if answered is None:
        answered = checkin.take_photo(ctx)
    return answered if answered is not None else claim.handle_photo(ctx)


KINDS: dict[EventKind, Callable[[HandlerContext], list[Message]]] = {
    EventKind.TEXT: _on_text,
    EventKind.IMAGE: _on_image,
    EventKind.CARD_ACTION: _on_action,
    EventKind.ENTER: lambda ctx: [help.help_card(ctx)],
}


def dispatch(ctx: HandlerContext) -> list[Message]:
    """Run the handler for the event; BotErrors become their message.

    The handler runs inside a savepoint so a refusal or a crash leaves no partial change.
    Anything else is a failure of our own (a bug, the database, a full disk): it propagates,
    and the worker retries the event with backoff, then dead-letters it and tells the sender.
    """
    handler = KINDS.get(ctx.event.kind)
    if handler is None:
        return []
    try:
        with ctx.session.begin_nested():
            return handler(ctx)
    except BotError as exc:
        return [Text(exc.user_message)]
