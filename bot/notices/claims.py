"""Texts and cards about claims (申领): what the claim service and its handlers say."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.asks.kinds import Choice, Needs
from bot.models import Claim, ClaimState, Employee, Rule
from bot.notices import appeals as appeal_notices
from bot.outbox import enqueue
from bot.signing import Signer
from bot.timeutil import local_dt
from cards import Card, Field, Text

CLAIM_SUBMITTED = "✅ 已提交申领：{rule}（{points:+d} 分），等待 {approver} 审核。"
CLAIM_APPROVED = "🎉 申领通过：{rule} +{points} 分，当前余额 {balance} 分。"
ALREADY_DECIDED = "该申领已由 {name} 于 {time} 处理（{outcome}），无需重复操作。"
NOT_YOUR_CLAIM = "只有 {name} 的主管可以审核这条申领。"
NO_SUPERVISOR = "你还没有设置主管，暂时无法申领，请联系 HR。"
SELF_APPROVAL = "不能审核自己的申领。"
DUPLICATE_PHOTO = (
    "这张照片已用于申领 #{claim_id}（{name} {time} {rule}），不能重复使用。请拍一张新照片。"
)
DAILY_CAP = "「{rule}」今天已申领 {count} 次，达到每日上限 {cap} 次。"
WEEKLY_CAP = "「{rule}」本周已申领 {count} 次，达到每周上限 {cap} 次。"
RULE_INACTIVE = "规则 {code} 已停用，请发送「申领」查看可用规则。"
EVIDENCE_REQUIRED = "「{rule}」需要照片证据：请发送一张现场照片，10 分钟内自动提交。"
REASON_PROMPT = "请选择驳回原因，或直接回复文字说明（申领 #{claim_id}）。"
REJECT_REASONS = ("照片不清晰", "不符合规则", "重复申领")

STATE_LABELS = {
    ClaimState.PENDING: "待审核",
    ClaimState.APPROVED: "已通过",
    ClaimState.REJECTED: "已驳回",
    ClaimState.WITHDRAWN: "已撤回",
}


APPROVAL_KIND = "claim_approval"
APPROVAL_TITLE = "审核申领 #{claim_id}：{name} {code} {rule}"
REJECT_TITLE = "驳回申领 #{claim_id}"
REJECT_CANCELLED = "已取消驳回，申领 #{claim_id} 仍待审核。"
NOT_APPROVER = "这条申领不归你审核。"
NOT_PENDING = "这条申领已经{state}，无需操作。"
REASON_REQUIRED = "请填写驳回原因。"
UNKNOWN_RULE = "没有编号为 {code} 的规则，发送「申领」查看规则列表。"
NOT_YOUR_PHOTO = "只能使用自己发送的照片申领。"
UNKNOWN_CLAIM = "没有找到这条申领。"


def approval_choices(claim_id: int) -> tuple[Choice, Choice]:
    """通过, and 驳回 with a reason (common reasons offered, any typed text taken)."""
    return (
        Choice("approve", "通过", "primary", outcome="已通过"),
        Choice(
            "reject",
            "驳回",
            "danger",
            outcome="已驳回",
            needs=Needs.REASON,
            reasons=REJECT_REASONS,
            prompt_title=REJECT_TITLE.format(claim_id=claim_id),
            prompt=REASON_PROMPT.format(claim_id=claim_id),
            cancelled=REJECT_CANCELLED.format(claim_id=claim_id),
        ),
    )


def approval_card(
    claim: Claim, rule: Rule, claimant: Employee, *, tz: ZoneInfo, points: int
) -> Card:
    """The approval card's content: photo, rule, points, claimant, time (the asks engine adds
    通过/驳回, signed for each approver)."""
    fields = [
        Field(
            "申领人",
            f"{claimant.name}（{claimant.department.name if claimant.department else '-'}）",
        ),
        Field("规则", f"{rule.code} {rule.title}"),
        Field("积分", f"{points:+d} 分"),
        Field("时间", local_dt(claim.created_at, tz)),
    ]
    if claim.note:
        fields.append(Field("备注", claim.note))
    return Card(
        title=f"待审核申领 #{claim.id}",
        fields=tuple(fields),
        image=f"evidence:{claim.evidence_id}" if claim.evidence_id else None,
    )


def approval_title(claim: Claim, rule: Rule, claimant: Employee) -> str:
    """How the approval reads in reminders and 任务."""
    return APPROVAL_TITLE.format(
        claim_id=claim.id, name=claimant.name, code=rule.code, rule=rule.title
    )


def tell_claimant_approved(
    session: Session, claim: Claim, *, points: int, balance: int, now: datetime
) -> None:
    """通过 +N 分 and the new balance, to the claimant."""
    text = CLAIM_APPROVED.format(rule=claim.rule.title, points=points, balance=balance)
    enqueue(session, Text(text), now=now, recipient=claim.employee)


def tell_claimant_rejected(
    session: Session, claim: Claim, *, now: datetime, signer: Signer | None = None
) -> None:
    """驳回 and the reason, to the claimant, as a card whose 申诉 is signed for them
    (bot/notices/appeals.py; without a signer it says how to type 申诉)."""
    card = appeal_notices.rejection_card(claim, now=now, signer=signer)
    enqueue(session, card, now=now, recipient=claim.employee)
