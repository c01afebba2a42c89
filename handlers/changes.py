"""Engineering changes (变更影响) in chat: the four ask kinds — an owner's 接受 / 需协商 / 拒绝,
the notice (确认无误 / 需补充信息 / 存在误解), the author's 同意调整 / 维持原方案, the retest
task (提交重测报告 → 通过 / 不通过) — and `变更 <编号>`, the live summary for the author and HR.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from bot import asks
from bot.context import HandlerContext
from bot.errors import BotError, NotAllowed, NotFound
from bot.models import AckDecision, Change, ChangeAck, ChangeStatus, RetestState, Role
from bot.notices import changes as notices
from bot.services.change_answers import (
    accept,
    due_text,
    negotiate,
    notice_feedback,
    reject,
    reply_to_negotiation,
    report_retest,
    retest_of,
    take_report,
)
from bot.services.change_report import publish_summary
from bot.services.changes import (
    ChangeContext,
    change_id_of,
    close_change,
    find_by_reference,
    lock_change,
    visible_to,
)
from bot.services.ledger import balance
from cards import Card, Message, Text

ONLY_AUTHOR_OR_HR = "只有变更发起人和 HR 可以查看或关闭这项变更。"
UNKNOWN_CHANGE = "没有找到变更「{ref}」。发送「变更」查看你发起的变更。"
NO_CHANGES = "目前没有进行中的变更。待你确认的变更请发送「任务」查看。"
LIST_TITLE = "进行中的变更（{total}）"
LIST_LINE = "#{id} {version} {title} · 确认 {settled}/{total}"
LIST_NOTE = "发送「变更 编号」查看进度，例如「变更 {id}」。"
CLOSE_USAGE = "请写明要关闭的变更，例如「变更 关闭 12 PLM 已撤销」。"
CLOSED_REPLY = "已关闭变更「{title}」，{count} 项待办已撤回。"
ALREADY_CLOSED = "变更「{title}」已经关闭。"
CLOSE_WORDS = ("关闭", "close")
LISTED = 10


def _context(answer: asks.Answer) -> ChangeContext:
    return ChangeContext(now=answer.now, tz=answer.tz, signer=answer.signer)


def _open_change(answer: asks.Answer, *, lock: bool = True) -> Change:
    """The ask's change (locked: answers that may complete it go one at a time); refused
    politely once the change is closed."""
    session, change_id = answer.session, change_id_of(answer.ask)
    change = lock_change(session, change_id) if lock else session.get(Change, change_id)
    assert change is not None, "asks are opened with their change"
    _refuse_if_closed(change)
    return change


def _refuse_if_closed(change: Change) -> None:
    if change.status != ChangeStatus.OPEN:
        raise BotError(notices.CHANGE_CLOSED.format(title=notices.short_title(change)))


def _on_impact(answer: asks.Answer) -> list[Message]:
    """接受 opens the retest task; 需协商 asks the author; 拒绝 tells author and supervisor."""
    change, ctx, owner = _open_change(answer), _context(answer), answer.ask.owner
    title = notices.short_title(change)
    if answer.choice.key == "accept":
        retest = accept(answer.session, change, owner, ctx)
        return [Text(notices.ACCEPTED.format(title=title, due=due_text(retest, ctx)))]
    reason = answer.reason or ""
    if answer.choice.key == "negotiate":
        negotiate(answer.session, change, owner, reason, ctx)
        return [Text(notices.NEGOTIATING.format(author=change.author.name))]
    told = reject(answer.session, change, owner, reason, ctx, answering=answer.ask)
    return [Text(notices.REJECTED.format(title=title, people="、".join(p.name for p in told)))]


def _on_notice(answer: asks.Answer) -> list[Message]:
    """确认无误, or feedback (text or photo) for the author."""
    # Not locked: feedback never completes a change, and the change's completion may be
    # closing this very notice (it holds the change and waits for this ask).
    change = _open_change(answer, lock=False)
    notice_feedback(answer.session, change, answer.actor, answer.choice, _context(answer),
                    note=answer.reason, evidence_id=answer.evidence_id)  # fmt: skip
    if answer.choice.key == "confirm":
        return [Text(notices.NOTICE_CONFIRMED.format(title=notices.short_title(change)))]
    return [Text(notices.NOTICE_SENT.format(author=change.author.name))]


def _on_negotiation(answer: asks.Answer) -> list[Message]:
    """同意调整 / 维持原方案: back to the owner to confirm again."""
    change = _open_change(answer)
    owner = reply_to_negotiation(answer.session, change, answer.ask, answer.choice.key,
                                 answer.reason or "", _context(answer))  # fmt: skip
    return [Text(notices.NEGOTIATION_SENT.format(owner=owner.name, outcome=answer.choice.label))]


def _on_retest(answer: asks.Answer) -> list[Message]:
    """提交重测报告 keeps the photo or text; 通过 / 不通过 reports the retest and credits the
    compensation (already done when PLM reported it: then nothing more). A supervisor copied
    on an overdue task may report it for the owner, who is told."""
    session, ctx = answer.session, _context(answer)
    change = lock_change(session, change_id_of(answer.ask))
    retest = retest_of(session, change, answer.ask.owner_id)
    assert retest is not None, "a retest ask is opened with its retest"
    if retest.state == RetestState.REPORTED:
        return []  # PLM reported it; its answer in the owner's name settles the task
    _refuse_if_closed(change)
    if answer.choice.key == "report":
        take_report(retest, note=answer.reason, evidence_id=answer.evidence_id)
        return [Text(notices.REPORT_TAKEN)]
    report_retest(session, change, retest, answer.choice.key, ctx, by=answer.actor,
                  source="chat", answering=answer.ask)  # fmt: skip
    result = notices.RESULT_WORDS[answer.choice.key]
    if answer.actor.id != retest.owner_id:
        owner = answer.ask.owner.name
        return [Text(notices.RETEST_DONE_FOR.format(owner=owner, result=result,
                                                    points=retest.points))]  # fmt: skip
    if not retest.ledger_entry_id:
        return [Text(notices.RETEST_DONE.format(result=result))]
    total = balance(session, retest.owner_id)
    return [Text(notices.RETEST_CREDITED.format(result=result, points=retest.points,
                                                balance=total))]  # fmt: skip


def _register(name: str, on_answer: Callable[[asks.Answer], list[Message]]) -> asks.AskKind:
    return asks.register(
        asks.AskKind(name, on_answer, already_answered=notices.ALREADY_ANSWERED,
                     not_yours=notices.NOT_OWNER)
    )  # fmt: skip


CHANGE_IMPACT = _register(notices.IMPACT_KIND, _on_impact)
CHANGE_NOTICE = _register(notices.NOTICE_KIND, _on_notice)
CHANGE_NEGOTIATION = _register(notices.NEGOTIATION_KIND, _on_negotiation)
CHANGE_RETEST = _register(notices.RETEST_KIND, _on_retest)


# -- 变更 ------------------------------------------------------------------------------------------


def handle_change(ctx: HandlerContext, args: str) -> list[Message]:
    """变更 (the open changes one follows), 变更 <编号> (the live summary), 变更 关闭 <编号>."""
    words = args.split(maxsplit=1)
    if not words:
        return _list(ctx)
    if words[0].lower() in CLOSE_WORDS:
        return _close(ctx, words[1] if len(words) > 1 else "")
    change = _visible(ctx, words[0])
    return [publish_summary(ctx.session, change, now=ctx.now, tz=ctx.tz)]


def _visible(ctx: HandlerContext, ref: str) -> Change:
    change = find_by_reference(ctx.session, ref)
    if change is None:
        raise NotFound(UNKNOWN_CHANGE.format(ref=ref[:30]))
    if not visible_to(change, ctx.sender):
        raise NotAllowed(ONLY_AUTHOR_OR_HR)
    return change


def _list(ctx: HandlerContext) -> list[Message]:
    query = select(Change).where(Change.status == ChangeStatus.OPEN)
    if ctx.sender.role not in (Role.HR, Role.ADMIN):
        query = query.where(Change.author_id == ctx.sender.id)
    changes = list(ctx.session.scalars(query.order_by(Change.id.desc()).limit(LISTED)))
    if not changes:
        return [Text(NO_CHANGES)]
    counts: dict[int, dict[str, int]] = {}
    for change_id, decision, n in ctx.session.execute(
        select(ChangeAck.change_id, ChangeAck.decision, func.count(ChangeAck.id))
        .where(ChangeAck.change_id.in_([c.id for c in changes]))
        .group_by(ChangeAck.change_id, ChangeAck.decision)
    ):
        counts.setdefault(change_id, {})[decision] = n
    lines = []
    for c in changes:
        n = counts.get(c.id, {})
        settled = n.get(AckDecision.ACCEPTED, 0) + n.get(AckDecision.REJECTED, 0)
        lines.append(LIST_LINE.format(id=c.id, version=c.version, title=c.title,
                                      settled=settled, total=sum(n.values())))  # fmt: skip
    return [Card(title=LIST_TITLE.format(total=len(changes)), lines=tuple(lines),
                 note=LIST_NOTE.format(id=changes[0].id))]  # fmt: skip


def _close(ctx: HandlerContext, args: str) -> list[Message]:
    """变更 关闭 <编号> [原因]: the author or HR withdraws a change; waiting asks are closed."""
    ref, _, reason = args.strip().partition(" ")
    if not ref:
        return [Text(CLOSE_USAGE)]
    change = _visible(ctx, ref)
    title = notices.short_title(change)
    if change.status == ChangeStatus.CLOSED:
        return [Text(ALREADY_CLOSED.format(title=title))]
    count = close_change(ctx.session, change, outcome=notices.CLOSED_OUTCOME, now=ctx.now,
                         tz=ctx.tz, by=ctx.sender, reason=reason.strip() or None)  # fmt: skip
    return [Text(CLOSED_REPLY.format(title=title, count=count))]
