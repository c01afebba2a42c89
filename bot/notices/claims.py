"""Texts and cards about claims (申领), shared by the claim service and the handlers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.models import Claim, ClaimState, Employee, Rule
from bot.signing import Signer
from bot.timeutil import local_dt, local_hm
from cards import Button, Card, Field

CLAIM_SUBMITTED = "✅ 已提交申领：{rule}（{points:+d} 分），等待 {approver} 审核。"
CLAIM_APPROVED = "🎉 申领通过：{rule} +{points} 分，当前余额 {balance} 分。"
CLAIM_REJECTED = "❌ 申领被驳回：{rule}\n原因：{reason}\n如有异议可发送「申诉」。"
ALREADY_DECIDED = "该申领已由 {name} 于 {time} 处理（{state}），无需重复操作。"
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


def claim_card_key(claim_id: int) -> str:
    """The key shared by every copy of a claim's approval card."""
    return f"claim:{claim_id}"


def approval_card(
    claim: Claim,
    rule: Rule,
    claimant: Employee,
    approver: Employee,
    *,
    tz: ZoneInfo,
    signer: Signer,
    now: datetime,
    points: int,
) -> Card:
    """The supervisor's approval card: photo, rule, points, claimant, time, 通过/驳回."""
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
    buttons = ()
    status = None
    if claim.state == ClaimState.PENDING:
        buttons = (
            Button("通过", signer.sign("approve", claim.id, approver.id, now), "primary"),
            Button("驳回", signer.sign("reject", claim.id, approver.id, now), "danger"),
        )
    else:
        status = decided_status(claim, tz)
    return Card(
        title=f"待审核申领 #{claim.id}",
        fields=tuple(fields),
        buttons=buttons,
        image=f"evidence:{claim.evidence_id}" if claim.evidence_id else None,
        status=status,
        key=claim_card_key(claim.id),
    )


def decided_status(claim: Claim, tz: ZoneInfo) -> str:
    """`已通过 · 张三 · 10:42` (plus the reason for a rejection)."""
    label = STATE_LABELS[ClaimState(claim.state)]
    who = claim.decided_by.name if claim.decided_by else "-"
    when = local_hm(claim.decided_at, tz) if claim.decided_at else "-"
    line = f"{label} · {who} · {when}"
    if claim.state == ClaimState.REJECTED and claim.reason:
        line += f"\n原因：{claim.reason}"
    return line


def reason_card(claim: Claim, approver: Employee, *, signer: Signer, now: datetime) -> Card:
    """Quick reasons for a rejection; any typed text is taken as the reason too."""
    buttons = tuple(
        Button(reason, signer.sign("reject_reason", claim.id, approver.id, now, str(i)), "default")
        for i, reason in enumerate(REJECT_REASONS)
    )
    buttons += (
        Button("取消", signer.sign("reject_cancel", claim.id, approver.id, now), "default"),
    )
    return Card(
        title=f"驳回申领 #{claim.id}",
        lines=(REASON_PROMPT.format(claim_id=claim.id),),
        buttons=buttons,
        key=f"reject:{claim.id}:{approver.id}",
    )
