"""Texts and cards about appeals (申诉): the rejection card with 申诉, the reason prompt, the
reviewer's 改判通过 / 维持驳回 card, the outcome messages and the 申诉 listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.asks.kinds import Choice, Needs
from bot.models import Appeal, AppealState, Claim, Employee
from bot.outbox import current_card, enqueue, publish_card
from bot.signing import Signer
from bot.timeutil import local_dt, local_hm
from cards import Button, Card, Field, Text

WINDOW_DAYS = 30  # an appeal is possible this many days after the rejection (design §15)
APPEAL_KIND = "claim_appeal"
APPEAL_POLICY = "appeal"  # escalation_policies row seeded by migration 0016
APPEAL_ACTION = "appeal"
CANCEL_ACTION = "appeal_cancel"

# -- the rejection, with 申诉 --------------------------------------------------------------------

REJECTED_TITLE = "❌ 申领被驳回 #{claim_id}"
REJECTED_REASON = "原因：{reason}"
REJECTED_NOTE = "如有异议，{days} 天内可点「申诉」说明理由，或发送「申诉 {claim_id} 理由」。"
APPEAL_LABEL = "申诉"
FILED_STATUS = "已申诉 · {time}（{reviewer} 复核中）"
OVERTURNED_STATUS = "申诉改判通过 · {points}"
UPHELD_STATUS = "申诉维持驳回"

# -- the claimant's side --------------------------------------------------------------------------

USAGE = (
    "申诉用法：申诉 <申领编号> <理由>，例如「申诉 12 照片右下角能看到模具编号」。"
    f"被驳回的申领可在 {WINDOW_DAYS} 天内申诉一次，由驳回人的上级复核。"
)
BAD_NUMBER = "没看懂申领编号「{text}」。" + USAGE
PROMPT_TITLE = "申诉申领 #{claim_id}"
PROMPT_LINE = "请直接回复申诉理由：为什么这条申领应当通过（30 分钟内有效）。"
CANCEL_LABEL = "取消"
CANCEL_WORDS = ("取消", "cancel")
PROMPT_CANCELLED = "已取消"
PROMPT_FILED = "已提交申诉 #{appeal_id}"
CANCELLED = "已取消申诉。申领 #{claim_id} 在 {deadline} 前仍可申诉。"
NOTHING_TO_CANCEL = "申领 #{claim_id} 的申诉已经提交，无法取消；发送「申诉」查看进度。"
FILED = (
    "📨 已提交申诉 #{appeal_id}（申领 #{claim_id} {rule}），{reviewer} 将在 {due} 前复核，"
    "结果会通知你。发送「申诉」查看进度。"
)
NOT_FOUND = "没有找到申领 #{claim_id}。发送「申诉」查看可以申诉的申领。"
NOT_YOURS = "申领 #{claim_id} 不是你提交的，只能对自己的申领申诉。"
ALREADY_APPROVED = "申领 #{claim_id} 已经通过，无需申诉。"
STILL_PENDING = "申领 #{claim_id} 还在审核中，出结果后才能申诉。"
WITHDRAWN = "申领 #{claim_id} 已撤回，不能申诉。"
ALREADY_APPEALED = (
    "申领 #{claim_id} 已于 {date} 申诉过（申诉 #{appeal_id}，{state}），每条申领只能申诉一次。"
)
TOO_LATE = (
    "申领 #{claim_id} 于 {date} 被驳回，已超过 " + str(WINDOW_DAYS) + " 天申诉期限，"
    "不能再申诉。如有特殊情况请联系 HR。"
)
REASON_REQUIRED = "请写明申诉理由，例如「申诉 12 照片右下角能看到模具编号」。"
REASON_TOO_LONG = "申诉理由太长了（{length} 字），请控制在 {limit} 字以内后重新发送。"
NO_REVIEWER = "暂时找不到可以复核这条申诉的人（驳回人没有上级，也没有 HR），请直接联系 HR。"

LIST_TITLE = "我的申诉"
LIST_EMPTY = "还没有申诉记录。"
LIST_APPEALABLE = "可申诉（{days} 天内）："
APPEAL_LINE = "申诉 #{appeal_id} · 申领 #{claim_id} {code} · {state}"
APPEALABLE_LINE = "申领 #{claim_id} {code} {rule} · {date} 驳回，还剩 {left} 天"
APPEAL_BUTTON = "申诉 #{claim_id}"
STATE_LABELS = {
    AppealState.PENDING: "待复核",
    AppealState.OVERTURNED: "改判通过",
    AppealState.UPHELD: "维持驳回",
}
PENDING_DETAIL = "待复核（{reviewer}，截止 {due}）"
OVERTURNED_DETAIL = "改判通过 {points}"
UPHELD_DETAIL = "维持驳回：{reason}"

# -- the reviewer's ask ---------------------------------------------------------------------------

ASK_TITLE = "申诉复核 #{appeal_id}：{name} {code} {rule}"
CARD_TITLE = "申诉复核 #{appeal_id} · {name}"
REJECTION_LINE = "驳回原因：{reason}"
APPEAL_REASON_LINE = "申诉理由：{reason}"
CARD_NOTE = "请在 {due} 前处理，逾期转 HR。改判通过将补记积分；维持驳回需写明理由。"
HISTORY = "近{days}天 通过 {approved} · 驳回 {rejected}"
HISTORY_APPEALS = " · 申诉 {appeals}"
OVERTURN_LABEL = "改判通过"
UPHOLD_LABEL = "维持驳回"
UPHOLD_REASONS = ("照片无法证明", "不符合规则要求", "重复申领")
UPHOLD_TITLE = "维持驳回：申诉 #{appeal_id}"
UPHOLD_PROMPT = "请选择或直接回复维持驳回的理由（会原文告知 {name}）。"
UPHOLD_CANCELLED = "已取消，申诉 #{appeal_id} 仍待复核。"
OVERTURNED_ACK = "已改判通过申诉 #{appeal_id}，已为 {name} 补记 {points}。"
UPHELD_ACK = "已维持驳回申诉 #{appeal_id}，已通知 {name}。"
ALREADY_DECIDED = "这条申诉已由 {name} 于 {time} 处理（{outcome}），无需重复操作。"
NOT_REVIEWER = "这条申诉不归你复核。"
NOT_PENDING = "申诉 #{appeal_id} 已经处理过了（{state}）。"
UNKNOWN_APPEAL = "没有找到这条申诉。"
SELF_REVIEW = "不能复核自己的申诉。"
OWN_DECISION = "不能复核自己作出的驳回，请交由上级或 HR 处理。"
CLAIM_CHANGED = "申领 #{claim_id} 的状态已经变化，这条申诉无法改判，请联系 HR。"
DECISION_REASON_REQUIRED = "请写明维持驳回的理由。"

# -- outcomes -------------------------------------------------------------------------------------

OVERTURNED_CLAIMANT = (
    "✅ 申诉成功：申领 #{claim_id} {rule} 经 {name} 复核改判通过，{points}，当前余额 {balance} 分。"
)
UPHELD_CLAIMANT = (
    "申诉结果：申领 #{claim_id} {rule} 经 {name} 复核，维持驳回。\n理由：{reason}\n"
    "每条申领只能申诉一次；如仍有疑问，请联系 HR。"
)
DECIDER_OVERTURNED = "ℹ️ 你驳回的申领 #{claim_id}（{claimant} {rule}）经 {name} 复核改判通过。"
DECIDER_UPHELD = "ℹ️ 你驳回的申领 #{claim_id}（{claimant} {rule}）经 {name} 复核维持驳回。"
POINTS = "+{total} 分"
POINTS_WITH_BONUS = "+{total} 分（含{bonuses}）"
BONUS_PART = "{campaign} +{points}"
# Ledger memos (hashed with the entry): they name the appeal, so an entry says where it came from.
ENTRY_MEMO = "申诉 #{appeal_id} 改判：{code} {rule}"
BONUS_MEMO = "申诉 #{appeal_id} 改判 · {campaign} 奖励"


def rejection_key(claim_id: int) -> str:
    """The key of the claimant's rejection card (its status follows the appeal)."""
    return f"rejected:{claim_id}"


def prompt_key(claim_id: int) -> str:
    """The key of the card asking the claimant for the appeal's reason."""
    return f"appeal-reason:{claim_id}"


def points_text(total: int, bonuses: Sequence[tuple[str, int]] = ()) -> str:
    """`+22 分（含上线推广 +2）`: the total, with each campaign bonus named."""
    if not bonuses:
        return POINTS.format(total=total)
    parts = "、".join(BONUS_PART.format(campaign=name, points=pts) for name, pts in bonuses)
    return POINTS_WITH_BONUS.format(total=total, bonuses=parts)


def rejection_card(claim: Claim, *, now: datetime, signer: Signer | None) -> Card:
    """驳回 with the reason and 申诉, signed for the claimant for the whole appeal window
    (without a signer the card only says how to type it)."""
    buttons: tuple[Button, ...] = ()
    if signer is not None:
        window = replace(signer, ttl_days=WINDOW_DAYS)
        value = window.sign(APPEAL_ACTION, claim.id, claim.employee_id, now)
        buttons = (Button(APPEAL_LABEL, value, "primary"),)
    return Card(
        title=REJECTED_TITLE.format(claim_id=claim.id),
        lines=(
            f"{claim.rule.code} {claim.rule.title}",
            REJECTED_REASON.format(reason=claim.reason),
        ),
        note=REJECTED_NOTE.format(days=WINDOW_DAYS, claim_id=claim.id),
        buttons=buttons,
        key=rejection_key(claim.id),
    )


def prompt_card(claim: Claim, *, cancel_value: str) -> Card:
    """What the claimant sees after 申诉: the claim, why it was rejected, and what to type."""
    return Card(
        title=PROMPT_TITLE.format(claim_id=claim.id),
        lines=(
            f"{claim.rule.code} {claim.rule.title}",
            REJECTION_LINE.format(reason=claim.reason or "-"),
            PROMPT_LINE,
        ),
        buttons=(Button(CANCEL_LABEL, cancel_value),),
        key=prompt_key(claim.id),
    )


def ask_title(appeal: Appeal, claim: Claim) -> str:
    """How the appeal reads in reminders and 任务."""
    return ASK_TITLE.format(
        appeal_id=appeal.id, name=claim.employee.name, code=claim.rule.code, rule=claim.rule.title
    )


def review_card(appeal: Appeal, claim: Claim, *, points: str, history: str, tz: ZoneInfo) -> Card:
    """The reviewer's card: the photo, the claim, the rejection and the appeal's reasons, the
    claimant's record under the rule (the asks engine adds 改判通过 / 维持驳回)."""
    claimant = claim.employee
    rejecter = appeal.rejected_by
    rejected = f"{rejecter.name if rejecter else '-'} · " + (
        local_dt(appeal.rejected_at, tz) if appeal.rejected_at else "-"
    )
    fields = (
        Field(
            "申领人",
            f"{claimant.name}（{claimant.department.name if claimant.department else '-'}）",
        ),
        Field("规则", f"{claim.rule.code} {claim.rule.title}"),
        Field("积分", points),
        Field("申领", f"#{claim.id} · {local_dt(claim.created_at, tz)}"),
        Field("驳回", rejected),
        Field("同规则", history),
    )
    return Card(
        title=CARD_TITLE.format(appeal_id=appeal.id, name=claimant.name),
        lines=(
            REJECTION_LINE.format(reason=appeal.rejection_reason or "-"),
            APPEAL_REASON_LINE.format(reason=appeal.reason),
        ),
        fields=fields,
        image=f"evidence:{claim.evidence_id}" if claim.evidence_id else None,
        note=CARD_NOTE.format(due=local_dt(appeal.due_at, tz)),
    )


def history_text(days: int, approved: int, rejected: int, appeals: int) -> str:
    """`近90天 通过 3 · 驳回 1 · 申诉 1`: the claimant's other claims under the rule."""
    text = HISTORY.format(days=days, approved=approved, rejected=rejected)
    return text + (HISTORY_APPEALS.format(appeals=appeals) if appeals else "")


def review_choices(appeal_id: int, claimant_name: str) -> tuple[Choice, Choice]:
    """改判通过, and 维持驳回 with a reason the claimant will read."""
    return (
        Choice("overturn", OVERTURN_LABEL, "primary", outcome="已改判通过"),
        Choice(
            "uphold",
            UPHOLD_LABEL,
            "danger",
            outcome="已维持驳回",
            needs=Needs.REASON,
            reasons=UPHOLD_REASONS,
            prompt_title=UPHOLD_TITLE.format(appeal_id=appeal_id),
            prompt=UPHOLD_PROMPT.format(name=claimant_name),
            cancelled=UPHOLD_CANCELLED.format(appeal_id=appeal_id),
        ),
    )


def appeal_detail(appeal: Appeal, tz: ZoneInfo, points: str | None = None) -> str:
    """An appeal's state as the claimant reads it in 申诉 (`points`: what an overturn
    credited, bonuses named)."""
    if appeal.state == AppealState.PENDING:
        return PENDING_DETAIL.format(reviewer=appeal.reviewer.name, due=local_dt(appeal.due_at, tz))
    if appeal.state == AppealState.OVERTURNED:
        return OVERTURNED_DETAIL.format(
            points=points or POINTS.format(total=appeal.points_credited or 0)
        )
    return UPHELD_DETAIL.format(reason=appeal.decision_reason or "-")


def list_card(
    appeals: Sequence[tuple[Appeal, str | None]], appealable: Sequence[tuple[Claim, int]], *,
    tz: ZoneInfo, buttons: Sequence[Button],
) -> Card:  # fmt: skip
    """申诉: the sender's appeals (each with what it credited), newest first, then the
    rejections still open to appeal (days left, a 申诉 button each), then how to appeal."""
    lines = [
        APPEAL_LINE.format(appeal_id=a.id, claim_id=a.claim_id, code=a.claim.rule.code,
                           state=appeal_detail(a, tz, points))
        for a, points in appeals
    ] or [LIST_EMPTY]  # fmt: skip
    if appealable:
        lines.append(LIST_APPEALABLE.format(days=WINDOW_DAYS))
        lines += [
            APPEALABLE_LINE.format(claim_id=c.id, code=c.rule.code, rule=c.rule.title,
                                   date=local_dt(c.decided_at, tz), left=left)
            for c, left in appealable
        ]  # fmt: skip
    return Card(title=LIST_TITLE, lines=tuple(lines), buttons=tuple(buttons), note=USAGE)


def appeal_button(claim_id: int, value: str) -> Button:
    """申诉 #12 on the listing."""
    return Button(APPEAL_BUTTON.format(claim_id=claim_id), value)


# -- what the service sends -----------------------------------------------------------------------


def _settle_rejection(session: Session, claim_id: int, status: str, now: datetime) -> None:
    """Every copy of the rejection card: `status` instead of 申诉 and of the hint about it."""
    card = current_card(session, rejection_key(claim_id))
    if card is not None:
        publish_card(session, replace(card, buttons=(), status=status, note=None), now=now)


def mark_filed(session: Session, appeal: Appeal, *, now: datetime, tz: ZoneInfo) -> None:
    """The rejection card says it was appealed and who reviews it (its 申诉 button goes)."""
    status = FILED_STATUS.format(time=local_hm(now, tz), reviewer=appeal.reviewer.name)
    _settle_rejection(session, appeal.claim_id, status, now)


def tell_overturned(
    session: Session, appeal: Appeal, claim: Claim, *, points: str, balance: int, now: datetime
) -> None:
    """改判通过: the claimant hears the points and balance; the rejecter hears the outcome."""
    name = appeal.decided_by.name if appeal.decided_by else "-"
    text = OVERTURNED_CLAIMANT.format(
        claim_id=claim.id, rule=claim.rule.title, name=name, points=points, balance=balance
    )
    enqueue(session, Text(text), now=now, recipient=claim.employee)
    _settle_rejection(session, claim.id, OVERTURNED_STATUS.format(points=points), now)
    _tell_rejecter(session, appeal, claim, DECIDER_OVERTURNED, now)


def tell_upheld(session: Session, appeal: Appeal, claim: Claim, *, now: datetime) -> None:
    """维持驳回: the claimant hears the reason; the rejecter hears the outcome."""
    name = appeal.decided_by.name if appeal.decided_by else "-"
    text = UPHELD_CLAIMANT.format(
        claim_id=claim.id, rule=claim.rule.title, name=name, reason=appeal.decision_reason
    )
    enqueue(session, Text(text), now=now, recipient=claim.employee)
    _settle_rejection(session, claim.id, UPHELD_STATUS, now)
    _tell_rejecter(session, appeal, claim, DECIDER_UPHELD, now)


def _tell_rejecter(
    session: Session, appeal: Appeal, claim: Claim, template: str, now: datetime
) -> None:
    rejecter: Employee | None = appeal.rejected_by
    if rejecter is None or not rejecter.active or rejecter.id == appeal.decided_by_id:
        return
    text = template.format(
        claim_id=claim.id, claimant=claim.employee.name, rule=claim.rule.title,
        name=appeal.decided_by.name if appeal.decided_by else "-",
    )  # fmt: skip
    enqueue(session, Text(text), now=now, recipient=rejecter)
