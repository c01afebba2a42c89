"""What the review of approvals (审批复核) says: why a claim needs a second approval, the
second approver's card, the replies, and HR's list of flags."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.asks.kinds import Choice, Needs
from bot.models import Claim, Employee, ReviewFlag
from bot.outbox import enqueue
from bot.timeutil import local_dt
from cards import Card, Field, Text

SECOND_KIND = "claim_second_approval"
SECOND_REJECT_REASONS = ("证据不足", "不符合规则", "疑似互相刷分")
SECOND_TITLE = "复核申领 #{claim_id}：{name} {code} {rule}"
SECOND_CARD_TITLE = "待复核申领 #{claim_id}"
SECOND_REJECT_TITLE = "复核驳回 #{claim_id}"
SECOND_REASON_PROMPT = "请选择驳回原因，或直接回复文字说明（复核申领 #{claim_id}）。"
SECOND_REJECT_CANCELLED = "已取消驳回，申领 #{claim_id} 仍待复核。"
WHY_HEADER = "需要复核的原因："
FIRST_APPROVAL = "{name} · {time} 初审通过"
PHOTO_WARNING_LABEL = "⚠️ 照片时间"
PHOTO_WARNING = "拍摄于 {taken}，早于申领 {days} 天"
SECOND_NOTE = "积分 ≥ {threshold} 分：通过后还需上级或 HR 复核才入账。"

REASONS = {
    "points": "积分 {points} 分，达到复核线 {threshold} 分",
    "mutual": "互相审批：{claimant} 在 30 天内也审批通过过 {approver} 的申领 #{other_claim}",
    "burst": "{approver} 在 {minutes} 分钟内审批通过了 {count} 条申领",
    "concentration": (
        "{approver} 近 30 天审批的积分有 {share}% 给了 {claimant}（共 {claims} 条中的 {mine} 条）"
    ),
    "old_photo": "照片拍摄于 {taken}，早于申领 {days} 天",
}
SIGNAL_NAMES = {
    "points": "高分",
    "mutual": "互相审批",
    "burst": "集中审批",
    "concentration": "积分集中",
    "old_photo": "旧照片",
}

HELD_ACK = "已初审通过 #{claim_id}（{award}），还需 {second} 复核后入账。原因：{why}"
HELD_CLAIMANT = "⏳ 申领 #{claim_id}「{rule}」已由 {approver} 初审通过（{award}），按规定需 {second} 复核后入账。"
SECOND_APPROVED_ACK = "已复核通过 #{claim_id}，已通知 {name}（{award}）。"
SECOND_REJECTED_ACK = "已复核驳回 #{claim_id}，已通知 {name} 和 {approver}。"
FIRST_APPROVER_TOLD = "申领 #{claim_id}（{name} {rule}）复核未通过：{reason}"
NO_REVIEWER = "这条申领需要复核，但 {approver} 没有上级，系统里也没有 HR，请联系管理员设置。"
AWAITING_SECOND = "这条申领已初审通过，正在等待 {name} 复核。"
NOT_REVIEWER = "这条申领的复核不归你处理。"
ALREADY_REVIEWED = "该申领已由 {name} 于 {time} 复核（{outcome}），无需重复操作。"
SELF_REVIEW = "不能复核自己初审或申领的申领。"

FLAGS_TITLE = "审批复核标记（近 {days} 天，{total} 条）"
FLAG_LINE = "· {time} #{claim_id} {claimant} {rule} · {signal}：{why}"
NO_FLAGS = "近 {days} 天没有需要关注的审批。👍"
FLAGS_MORE = "另有 {count} 条，请在命令行用 python -m bot review flags 查看全部。"
HR_ONLY = "只有 HR 可以查看审批复核标记。"


def reason_text(flag: ReviewFlag, claim: Claim, tz: ZoneInfo) -> str:
    """One flag in words."""
    detail = dict(flag.detail or {})
    if "taken" in detail:
        detail["taken"] = local_dt(datetime.fromisoformat(detail["taken"]), tz)
    detail.setdefault("claimant", claim.employee.name)
    detail.setdefault("approver", flag.approver.name if flag.approver else "-")
    try:
        return REASONS[flag.signal].format(**detail)
    except (KeyError, IndexError):
        return SIGNAL_NAMES.get(flag.signal, flag.signal)


def second_choices(claim_id: int) -> tuple[Choice, Choice]:
    """通过, and 驳回 with a reason, for the second approver."""
    return (
        Choice("approve", "通过", "primary", outcome="已复核通过"),
        Choice(
            "reject",
            "驳回",
            "danger",
            outcome="已驳回",
            needs=Needs.REASON,
            reasons=SECOND_REJECT_REASONS,
            prompt_title=SECOND_REJECT_TITLE.format(claim_id=claim_id),
            prompt=SECOND_REASON_PROMPT.format(claim_id=claim_id),
            cancelled=SECOND_REJECT_CANCELLED.format(claim_id=claim_id),
        ),
    )


def second_card(
    claim: Claim,
    first: Employee,
    approved_at: datetime,
    *,
    award: str,
    reasons: Sequence[str],
    tz: ZoneInfo,
) -> Card:
    """The second approver's card: the claim, the first approval and why it needs another."""
    claimant = claim.employee
    dept = claimant.department.name if claimant.department else "-"
    fields = [
        Field("申领人", f"{claimant.name}（{dept}）"),
        Field("规则", f"{claim.rule.code} {claim.rule.title}"),
        Field("积分", award),
        Field("初审", FIRST_APPROVAL.format(name=first.name, time=local_dt(approved_at, tz))),
        Field("时间", local_dt(claim.created_at, tz)),
    ]
    if claim.note:
        fields.append(Field("备注", claim.note))
    return Card(
        title=SECOND_CARD_TITLE.format(claim_id=claim.id),
        lines=(WHY_HEADER, *[f"· {r}" for r in reasons]),
        fields=tuple(fields),
        image=f"evidence:{claim.evidence_id}" if claim.evidence_id else None,
    )


def second_title(claim: Claim) -> str:
    """How the second approval reads in reminders and 任务."""
    return SECOND_TITLE.format(
        claim_id=claim.id, name=claim.employee.name, code=claim.rule.code, rule=claim.rule.title
    )


def tell_first_approver(session: Session, claim: Claim, first: Employee, *, now: datetime) -> None:
    """The first approver hears that the second approval rejected their approval."""
    text = FIRST_APPROVER_TOLD.format(
        claim_id=claim.id, name=claim.employee.name, rule=claim.rule.title, reason=claim.reason
    )
    enqueue(session, Text(text), now=now, recipient=first)


SECOND_PENDING_TITLE = "待我复核的申领 {total} 条"
