"""What the answers to a change's asks do (design §13): 接受 opens the retest task, 需协商 asks
the author, 拒绝 informs the author and the owner's supervisor; the author's 同意调整 or
维持原方案 goes back to the owner to confirm again; notice feedback reaches the author; a
reported retest credits the compensation to the ledger (category 变更) and may complete the
change. Each step refreshes the change's live summary.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.asks.engine import LIVE
from bot.models import (
    AckDecision,
    Ask,
    AuditLog,
    Change,
    ChangeAck,
    ChangeNotice,
    ChangeRetest,
    ChangeStatus,
    Employee,
    RetestState,
)
from bot.notices import change_cards as cards
from bot.notices import changes as notices
from bot.outbox import enqueue
from bot.services.change_report import first_retest_hours, publish_summary
from bot.services.changes import (
    ChangeContext,
    FieldError,
    change_subject,
    close_change,
    confirm_by,
    effective_start,
    impacts_of,
    lock_change,
)
from bot.services.ledger import append_entry
from bot.timeutil import local_dt
from cards import Text

NOTICE_RESPONSES = {"confirm": "confirmed", "more_info": "need_info",
                    "misunderstanding": "misunderstanding"}  # fmt: skip


def _audit(
    session: Session, actor: Employee | None, action: str, change: Change, detail: dict[str, Any],
    now: datetime,
) -> None:  # fmt: skip
    session.add(
        AuditLog(actor_id=actor.id if actor else None, action=action, object_type="change",
                 object_id=str(change.id), detail=detail, created_at=now)
    )  # fmt: skip


def ack_of(session: Session, change: Change, owner_id: int) -> ChangeAck:
    """An owner's confirmation row (locked)."""
    return session.scalars(
        select(ChangeAck)
        .where(ChangeAck.change_id == change.id, ChangeAck.owner_id == owner_id)
        .with_for_update()
    ).one()


def retest_of(session: Session, change: Change, owner_id: int) -> ChangeRetest | None:
    """An owner's retest task (locked), if they accepted."""
    return session.scalars(
        select(ChangeRetest)
        .where(ChangeRetest.change_id == change.id, ChangeRetest.owner_id == owner_id)
        .with_for_update()
    ).first()


def live_ask(session: Session, change: Change, kind: str, owner_id: int) -> Ask | None:
    """The newest waiting ask of one kind for one person about the change."""
    return session.scalars(
        select(Ask)
        .where(Ask.subject == change_subject(change.id), Ask.kind == kind,
               Ask.owner_id == owner_id, Ask.state.in_(LIVE))
        .order_by(Ask.id.desc())
        .limit(1)
    ).first()  # fmt: skip


# -- an owner's decision ----------------------------------------------------------------------------


def accept(session: Session, change: Change, owner: Employee, ctx: ChangeContext) -> ChangeRetest:
    """接受: the retest task, due `retest_due_hours` after the effective date (or after now,
    when accepted once the change is already in effect)."""
    ack = ack_of(session, change, owner.id)
    ack.decision, ack.reason, ack.decided_at = AckDecision.ACCEPTED, None, ctx.now
    rows = impacts_of(session, change.id, owner.id)
    due = max(effective_start(change, ctx.tz), ctx.now) + timedelta(hours=change.retest_due_hours)
    retest = ChangeRetest(
        change_id=change.id, owner_id=owner.id, state=RetestState.OPEN, due_at=due,
        points=sum(r.compensation_points for r in rows), created_at=ctx.now,
    )  # fmt: skip
    session.add(retest)
    session.flush()
    asks.open_ask(
        session, kind=notices.RETEST_KIND, owner=owner,
        title=cards.RETEST_TITLE.format(version=change.version, title=change.title),
        card=cards.retest_card(change, rows, due, ctx.tz), choices=notices.retest_choices(change),
        now=ctx.now, signer=ctx.signer, subject=change_subject(change.id), due_at=due,
        policy=notices.POLICY, anchor_at=due,
        # A supervisor copied on an overdue retest may report it; a 知道了 instead would
        # leave the owner without 提交重测报告.
        told_may_answer=True,
    )  # fmt: skip
    _audit(session, owner, "change.accept", change, {"retest": retest.id}, ctx.now)
    publish_summary(session, change, now=ctx.now, tz=ctx.tz)
    return retest


def negotiate(
    session: Session, change: Change, owner: Employee, reason: str, ctx: ChangeContext
) -> Ask:
    """需协商: the author is asked 同意调整 / 维持原方案, with the owner's reason."""
    ack = ack_of(session, change, owner.id)
    ack.decision, ack.reason, ack.decided_at = AckDecision.NEGOTIATING, reason, ctx.now
    ack.negotiation_reason = reason
    ack.author_reply = ack.author_reason = ack.replied_at = None
    rows = impacts_of(session, change.id, owner.id)
    ask = asks.open_ask(
        session, kind=notices.NEGOTIATION_KIND, owner=change.author,
        title=cards.NEGOTIATION_TITLE.format(owner=owner.name, version=change.version,
                                             title=change.title),
        card=cards.negotiation_card(change, owner, reason, rows),
        choices=notices.negotiation_choices(change, owner), now=ctx.now, signer=ctx.signer,
        subject=change_subject(change.id), due_at=confirm_by(change, ctx), policy=notices.POLICY,
    )  # fmt: skip
    ack.negotiation_ask_id = ask.id
    _audit(session, owner, "change.negotiate", change, {"reason": reason}, ctx.now)
    publish_summary(session, change, now=ctx.now, tz=ctx.tz)
    return ask


def reject(
    session: Session,
    change: Change,
    owner: Employee,
    reason: str,
    ctx: ChangeContext,
    *,
    answering: Ask | None = None,
) -> list[Employee]:
    """拒绝: the author and the owner's supervisor are told why; returns who was told."""
    ack = ack_of(session, change, owner.id)
    ack.decision, ack.reason, ack.decided_at = AckDecision.REJECTED, reason, ctx.now
    supervisor = owner.supervisor if owner.supervisor and owner.supervisor.active else None
    notices.tell_rejected(session, change, owner, reason, supervisor=supervisor, now=ctx.now)
    _audit(session, owner, "change.reject", change, {"reason": reason}, ctx.now)
    _settle(session, change, ctx, answering)
    told = [change.author]
    if supervisor is not None and supervisor.id != change.author_id:
        told.append(supervisor)
    return told


def reply_to_negotiation(
    session: Session, change: Change, ask: Ask, reply: str, reason: str, ctx: ChangeContext
) -> Employee:
    """同意调整 / 维持原方案: the owner gets the change again, with the author's answer, to
    接受 or 拒绝; returns the owner."""
    ack = session.scalars(
        select(ChangeAck)
        .where(ChangeAck.change_id == change.id, ChangeAck.negotiation_ask_id == ask.id)
        .with_for_update()
    ).one()
    ack.author_reply, ack.author_reason, ack.replied_at = reply, reason, ctx.now
    owner = ack.owner
    line = (notices.ADJUSTED_LINE if reply == "adjust" else notices.MAINTAINED_LINE).format(
        reason=reason
    )
    asks.open_ask(
        session, kind=notices.IMPACT_KIND, owner=owner, title=notices.impact_title(change),
        card=cards.impact_card(change, impacts_of(session, change.id, owner.id), first_line=line),
        choices=notices.impact_choices(change, negotiable=False), now=ctx.now, signer=ctx.signer,
        subject=change_subject(change.id), due_at=confirm_by(change, ctx), policy=notices.POLICY,
    )  # fmt: skip
    _audit(session, change.author, "change.negotiation_reply", change,
           {"owner": owner.employee_no, "reply": reply, "reason": reason}, ctx.now)  # fmt: skip
    publish_summary(session, change, now=ctx.now, tz=ctx.tz)
    return owner


def notice_feedback(
    session: Session,
    change: Change,
    person: Employee,
    choice: asks.Choice,
    ctx: ChangeContext,
    *,
    note: str | None = None,
    evidence_id: int | None = None,
) -> None:
    """确认无误 is recorded; 需补充信息 and 存在误解 also reach the author, text or photo."""
    notice = session.scalars(
        select(ChangeNotice)
        .where(ChangeNotice.change_id == change.id, ChangeNotice.employee_id == person.id)
        .with_for_update()
    ).one()
    notice.response, notice.responded_at = NOTICE_RESPONSES[choice.key], ctx.now
    notice.note, notice.evidence_id = note, evidence_id
    if choice.key != "confirm":
        card = notices.feedback_card(change, person, choice.done_word, note, evidence_id)
        enqueue(session, card, now=ctx.now, recipient=change.author)
    publish_summary(session, change, now=ctx.now, tz=ctx.tz)


# -- retests ----------------------------------------------------------------------------------------


def take_report(
    retest: ChangeRetest, *, note: str | None = None, evidence_id: int | None = None
) -> None:
    """提交重测报告: keep what came with it (a photo or a text) until the result is chosen."""
    if note:
        retest.note = note[:500]
    if evidence_id:
        retest.evidence_id = evidence_id


def report_retest(
    session: Session,
    change: Change,
    retest: ChangeRetest,
    result: str,
    ctx: ChangeContext,
    *,
    by: Employee | None,
    source: str,
    note: str | None = None,
    answering: Ask | None = None,
) -> bool:
    """Record the retest's result (通过 / 不通过) and credit its compensation to the owner's
    ledger (category 变更), linked from the retest row; False when it was already reported."""
    if retest.state == RetestState.REPORTED:
        return False
    retest.state, retest.result, retest.reported_at = RetestState.REPORTED, result, ctx.now
    retest.reported_by_id, retest.source = (by.id if by else None), source
    take_report(retest, note=note)
    if retest.points > 0:
        entry = append_entry(
            session, retest.owner, retest.points, kind=notices.LEDGER_KIND,
            memo=notices.LEDGER_MEMO.format(change_id=change.id, external_id=change.external_id,
                                            version=change.version, retest_id=retest.id),
            now=ctx.now, category=notices.LEDGER_CATEGORY, created_by_id=by.id if by else None,
        )  # fmt: skip
        retest.ledger_entry_id = entry.id
    if change.first_retest_at is None:
        change.first_retest_at = ctx.now
    if by is not None and by.id != retest.owner_id:
        text = notices.TO_OWNER_BY_OTHER.format(name=by.name, version=change.version,
                                                title=change.title,
                                                result=notices.RESULT_WORDS[result])  # fmt: skip
        enqueue(session, Text(text), now=ctx.now, recipient=retest.owner)
    _audit(session, by, "change.retest", change,
           {"retest": retest.id, "owner_id": retest.owner_id, "result": result,
            "points": retest.points, "ledger_entry": retest.ledger_entry_id,
            "evidence": retest.evidence_id, "source": source}, ctx.now)  # fmt: skip
    session.flush()
    _settle(session, change, ctx, answering)
    return True


def _settle(session: Session, change: Change, ctx: ChangeContext, answering: Ask | None) -> None:
    """Complete the change if this was the last thing it waited for, else refresh its summary
    (last: the summary card's row is the last lock an answer takes, see close_change)."""
    if not complete_if_done(session, change, ctx, answering=answering):
        publish_summary(session, change, now=ctx.now, tz=ctx.tz)


def complete_if_done(
    session: Session, change: Change, ctx: ChangeContext, *, answering: Ask | None = None
) -> bool:
    """Close the change once every owner accepted or rejected and every retest is reported
    (`answering`, the ask whose answer completes it, is settled by that answer); the author
    is told. True when it closed now."""
    if change.status != ChangeStatus.OPEN:
        return False
    undecided = session.scalar(
        select(ChangeAck.id)
        .where(
            ChangeAck.change_id == change.id,
            ChangeAck.decision.in_((AckDecision.PENDING, AckDecision.NEGOTIATING)),
        )
        .limit(1)
    )
    open_retest = session.scalar(
        select(ChangeRetest.id)
        .where(ChangeRetest.change_id == change.id, ChangeRetest.state == RetestState.OPEN)
        .limit(1)
    )
    if undecided is not None or open_retest is not None:
        return False
    close_change(
        session, change, outcome=notices.DONE_OUTCOME, now=ctx.now, tz=ctx.tz, keep=answering
    )
    reported = session.scalar(
        select(func.count(ChangeRetest.id)).where(ChangeRetest.change_id == change.id)
    )
    retests = ""
    if reported:
        hours = first_retest_hours(change)
        retests = notices.DONE_RETESTS.format(reported=reported, hours=f"{hours:.1f}")
    text = notices.TO_AUTHOR_DONE.format(version=change.version, title=change.title,
                                         retests=retests)  # fmt: skip
    enqueue(session, Text(text), now=ctx.now, recipient=change.author)
    return True


def due_text(retest: ChangeRetest, ctx: ChangeContext) -> str:
    """The retest's due time as replies show it (`12-04 00:00`)."""
    return local_dt(retest.due_at, ctx.tz)


class RetestConflict(ValueError):
    """A retest report the change cannot take (no accepted retest, closed change, another
    result already reported); `field` names what is at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def report_from_outside(
    session: Session,
    change: Change,
    owner_no: str,
    result: str,
    ctx: ChangeContext,
    *,
    note: str | None = None,
) -> tuple[ChangeRetest, bool]:
    """A retest reported by PLM: recorded and credited as if the owner had answered their
    retest task, which is answered in the owner's name (every copy shows it). Returns the
    retest and False when the same result was already reported.

    Raises:
        FieldError: `owner` is not an affected owner of the change.
        RetestConflict: no retest to report (not accepted, change closed) or a different result
        was reported before.
    """
    owner = session.scalar(select(Employee).where(Employee.employee_no == owner_no))
    ack = None
    if owner is not None:
        ack = session.scalar(
            select(ChangeAck).where(
                ChangeAck.change_id == change.id, ChangeAck.owner_id == owner.id
            )
        )
    if owner is None or ack is None:
        raise FieldError("owner", "not an affected owner of this change")
    # The retest task first, then the change: the order a tap on the task takes them.
    ask = live_ask(session, change, notices.RETEST_KIND, owner.id)
    if ask is not None:
        ask = asks.lock(session, ask.id)
    change = lock_change(session, change.id)
    retest = retest_of(session, change, owner.id)
    if retest is not None and retest.state == RetestState.REPORTED:
        if retest.result != result:
            raise RetestConflict("result", f"already reported as {retest.result}")
        return retest, False
    if retest is None:
        raise RetestConflict("owner", f"no retest task: the owner's decision is {ack.decision}")
    if change.status != ChangeStatus.OPEN:
        raise RetestConflict("id", "the change is closed")
    if ask is not None and ask.state not in LIVE:
        ask = None  # settled while this request waited for it
    report_retest(session, change, retest, result, ctx, by=None, source="api", note=note,
                  answering=ask)  # fmt: skip
    if ask is not None:
        choice = asks.choice_of(ask, result)
        assert choice is not None, "retest asks offer pass and fail"
        asks.answer(session, ask, owner, choice, now=ctx.now, tz=ctx.tz, signer=ctx.signer,
                    reason=note)  # fmt: skip
    words = notices.RESULT_WORDS[result]
    values = {"version": change.version, "title": change.title, "result": words,
              "points": retest.points}  # fmt: skip
    text = notices.TO_OWNER_BY_API_CREDITED if retest.ledger_entry_id else notices.TO_OWNER_BY_API
    enqueue(session, Text(text.format(**values)), now=ctx.now, recipient=owner)
    return retest, True
