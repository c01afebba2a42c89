"""建议: a worker's improvement suggestion to their supervisor on a 72-hour clock (design §15);
the 💡 button on task cards starts one about that task; HR's monthly counts (`建议 统计`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import asks
from bot.context import HandlerContext
from bot.errors import InvalidInput, NotAllowed
from bot.models import Evidence, Role, Task
from bot.notices import suggestions as texts
from bot.outbox import close_card
from bot.services import suggestions as service
from bot.services.claims import claim_award
from bot.services.conversation import forget, recall, remember
from bot.signing import Action
from bot.timeutil import local_dt, month_start
from cards import Message, Text
from handlers.claim import PENDING_PHOTO, pick_card_key

DRAFT = "suggestion_draft"
DRAFT_WINDOW = timedelta(minutes=30)


def _submit(ctx: HandlerContext, text: str, task_id: int | None) -> list[Message]:
    photo = recall(ctx.session, ctx.sender.id, PENDING_PHOTO, now=ctx.now)
    evidence = ctx.session.get(Evidence, photo["evidence_id"]) if photo else None
    task = ctx.session.get(Task, task_id) if task_id else None
    suggestion = service.submit_suggestion(
        ctx.session, ctx.sender, text, now=ctx.now, tz=ctx.tz, signer=ctx.signer,
        evidence=evidence, task=task,
    )  # fmt: skip
    forget(ctx.session, ctx.sender.id, DRAFT)
    if evidence is not None and suggestion.evidence_id is not None:
        forget(ctx.session, ctx.sender.id, PENDING_PHOTO)
        status = texts.PHOTO_USED.format(id=suggestion.id)
        close_card(ctx.session, pick_card_key(evidence.id), status, now=ctx.now)
    ask = asks.find_live(ctx.session, service.subject(suggestion.id), texts.REVIEW_KIND)
    due = local_dt(ask.due_at, ctx.tz) if ask is not None and ask.due_at else "-"
    reply = texts.SUBMITTED.format(id=suggestion.id, reviewer=suggestion.reviewer.name, due=due)
    if suggestion.evidence_id is not None:
        reply += texts.SUBMITTED_PHOTO
    return [Text(reply)]


def handle_suggest(ctx: HandlerContext, args: str) -> list[Message]:
    """建议 <text> / suggest: submit (a photo sent in the last 10 minutes is attached);
    `建议 统计 [2026-11]` gives HR the month's counts; `建议` alone says how."""
    word, _, rest = args.strip().partition(" ")
    if word in texts.STATS_WORDS:
        return [month_stats(ctx, rest.strip())]
    if not args.strip():
        return [Text(texts.USAGE)]
    draft = recall(ctx.session, ctx.sender.id, DRAFT, now=ctx.now)
    return _submit(ctx, args, draft.get("task_id") if draft else None)


def handle_suggest_button(ctx: HandlerContext, action: Action) -> list[Message]:
    """💡 on a task card (object id: the task, 0 for none): the next message is the suggestion."""
    task = ctx.session.get(Task, action.object_id) if action.object_id else None
    remember(
        ctx.session, ctx.sender.id, DRAFT, {"task_id": task.id if task else None},
        now=ctx.now, ttl=DRAFT_WINDOW,
    )  # fmt: skip
    about = texts.DRAFT_ABOUT.format(title=task.title) if task else ""
    return [Text(texts.DRAFT_PROMPT.format(about=about))]


def take_draft(ctx: HandlerContext) -> list[Message] | None:
    """Text after 💡: the suggestion (or 取消). None when no draft waits."""
    draft = recall(ctx.session, ctx.sender.id, DRAFT, now=ctx.now)
    text = (ctx.event.text or "").strip()
    if draft is None or not text:
        return None
    if text.lower() in texts.CANCEL_WORDS:
        forget(ctx.session, ctx.sender.id, DRAFT)
        return [Text(texts.DRAFT_CANCELLED)]
    return _submit(ctx, text, draft.get("task_id"))


def month_stats(ctx: HandlerContext, month: str) -> Message:
    """HR: per department, the month's suggestions and how fast they were answered."""
    if ctx.sender.role not in (Role.HR, Role.ADMIN):
        raise NotAllowed(texts.STATS_HR_ONLY)
    start = month_start(ctx.now, ctx.tz)
    if month:
        try:
            first = datetime.strptime(month, "%Y-%m").replace(tzinfo=ctx.tz)
        except ValueError:
            raise InvalidInput(texts.STATS_BAD_MONTH) from None
        start = month_start(first, ctx.tz)
    end = month_start(start.astimezone(ctx.tz) + timedelta(days=32), ctx.tz)
    label = start.astimezone(ctx.tz).strftime("%Y-%m")
    rows = service.month_counts(ctx.session, start, end, ctx.now)
    if not rows:
        return Text(texts.STATS_EMPTY.format(month=label))
    return texts.stats_card(label, rows)


def _on_review(answer: asks.Answer) -> list[Message]:
    """采纳 / 需讨论 / 不采纳."""
    suggestion_id = int((answer.ask.subject or "suggestion:0").split(":")[1])
    s = service.respond(
        answer.session, suggestion_id, answer.actor, answer.choice.key, answer.reason,
        now=answer.now, signer=answer.signer,
    )  # fmt: skip
    name = s.employee.name
    if answer.choice.key == "adopt":
        return [Text(texts.ADOPTED_ACK.format(id=s.id, name=name))]
    if answer.choice.key == "discuss":
        return [Text(texts.DISCUSS_ACK.format(id=s.id))]
    return [Text(texts.DECLINED_ACK.format(id=s.id, name=name))]


def _on_implementation(answer: asks.Answer) -> list[Message]:
    """已实施 credits A06; 不实施 records why."""
    suggestion_id = int((answer.ask.subject or "suggestion:0").split(":")[1])
    if answer.choice.key == "done":
        done = service.implement(
            answer.session, suggestion_id, answer.actor, now=answer.now, tz=answer.tz,
            signer=answer.signer,
        )  # fmt: skip
        s = done.suggestion
        if done.claim is None:
            return [Text(texts.IMPLEMENTED_NO_RULE_ACK.format(id=s.id, rule=service.CREDIT_RULE))]
        award = claim_award(answer.session, done.claim).text()
        return [Text(texts.IMPLEMENTED_ACK.format(id=s.id, name=s.employee.name, award=award))]
    s = service.drop(
        answer.session, suggestion_id, answer.actor, answer.reason or "", now=answer.now
    )
    return [Text(texts.DROPPED_ACK.format(id=s.id, name=s.employee.name))]


SUGGESTION_REVIEW = asks.register(
    asks.AskKind(
        texts.REVIEW_KIND, _on_review, already_answered=texts.ALREADY, not_yours=texts.NOT_YOURS
    )
)
SUGGESTION_IMPLEMENTATION = asks.register(
    asks.AskKind(
        texts.IMPLEMENT_KIND,
        _on_implementation,
        already_answered=texts.ALREADY,
        not_yours=texts.NOT_YOURS,
    )  # fmt: skip
)
