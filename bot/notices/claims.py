"""Texts and cards about claims (申领): what the claim service and its handlers say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.asks.kinds import Choice, Needs
from bot.models import Claim, ClaimState, Employee, ReviewFlag, Rule
from bot.notices import appeals as appeal_notices
from bot.notices import review
from bot.outbox import enqueue
from bot.signing import Signer
from bot.timeutil import local_dt
from cards import Card, Field, Text

if TYPE_CHECKING:
    from bot.services.campaigns import Award

CLAIM_SUBMITTED = "✅ 已提交申领：{rule} {award}，等待 {approver} 审核。"
CLAIM_APPROVED = "🎉 申领通过：{rule} {award}，当前余额 {balance} 分。"
ALREADY_DECIDED = "该申领已由 {name} 于 {time} 处理（{outcome}），无需重复操作。"
NOT_YOUR_CLAIM = "只有 {name} 的主管可以审核这条申领。"
NO_SUPERVISOR = "你还没有设置主管，暂时无法申领，请联系 HR。"
SELF_APPROVAL = "不能审核自己的申领。"
DUPLICATE_PHOTO = (
    "这张照片已用于申领 #{claim_id}（{name} {time} {rule}），不能重复使用。请拍一张新照片。"
)
PHOTO_ALREADY_CLAIMED = (
    "这张照片已提交申领 #{claim_id}（{rule}），一张照片只能申领一次。"
    "如需申领其他行为，请另拍一张照片。"
)
PHOTO_USED_AT_APPROVAL = (
    "申领 #{claim_id} 暂不能通过：照片与{state}的申领 #{other_id}（{name} {time} {rule}）相同，"
    "一张照片只能申领一次。请点「驳回」并说明原因。"
)
CAP_AT_APPROVAL = (
    "申领 #{claim_id} 暂不能通过：{name} 的「{rule}」{period}已通过 {count} 次，"
    "达到{cap_name} {cap} 次。请点「驳回」并说明原因；如上限有误，请 HR 调整后再审。"
)
CAP_PERIODS = {"daily": ("{date} 当天", "每日上限"), "weekly": ("{date} 所在周", "每周上限")}
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


def cap_reached_at_approval(claim: Claim, *, kind: str, count: int, cap: int, tz: ZoneInfo) -> str:
    """Why an approval would pass a daily or weekly cap, for the approver."""
    period, cap_name = CAP_PERIODS[kind]
    date = claim.created_at.astimezone(tz).strftime("%m-%d")
    return CAP_AT_APPROVAL.format(
        claim_id=claim.id,
        name=claim.employee.name,
        rule=claim.rule.title,
        period=period.format(date=date),
        count=count,
        cap_name=cap_name,
        cap=cap,
    )


def photo_already_used(claim: Claim, earlier: Claim, *, tz: ZoneInfo) -> str:
    """Why a claim whose photo backs an earlier claim cannot pass, for the approver."""
    return PHOTO_USED_AT_APPROVAL.format(
        claim_id=claim.id,
        state=STATE_LABELS[ClaimState(earlier.state)],
        other_id=earlier.id,
        name=earlier.employee.name,
        time=local_dt(earlier.created_at, tz),
        rule=earlier.rule.title,
    )


def duplicate_photo(earlier: Claim, evidence_id: int, *, tz: ZoneInfo) -> str:
    """Why a photo cannot back a new claim: this very photo was claimed already, or a copy."""
    if earlier.evidence_id == evidence_id:
        return PHOTO_ALREADY_CLAIMED.format(
            claim_id=earlier.id, rule=f"{earlier.rule.code} {earlier.rule.title}"
        )
    return DUPLICATE_PHOTO.format(
        claim_id=earlier.id,
        name=earlier.employee.name,
        time=local_dt(earlier.created_at, tz),
        rule=earlier.rule.title,
    )


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
    claim: Claim,
    rule: Rule,
    claimant: Employee,
    *,
    tz: ZoneInfo,
    award: Award,
    flags: Sequence[ReviewFlag] = (),
) -> Card:
    """The approval card's content: photo, rule, points (bonuses named), claimant, time, and
    what the review found at submission: an old photo, a second approval to come (the asks
    engine adds 通过/驳回, signed for each approver)."""
    fields = [
        Field(
            "申领人",
            f"{claimant.name}（{claimant.department.name if claimant.department else '-'}）",
        ),
        Field("规则", f"{rule.code} {rule.title}"),
        Field("积分", award.text()),
        Field("时间", local_dt(claim.created_at, tz)),
    ]
    if claim.note:
        fields.append(Field("备注", claim.note))
    note = None
    for flag in flags:
        if flag.signal == "old_photo":
            taken = local_dt(datetime.fromisoformat(flag.detail["taken"]), tz)
            warning = review.PHOTO_WARNING.format(taken=taken, days=flag.detail["days"])
            fields.append(Field(review.PHOTO_WARNING_LABEL, warning))
        elif flag.signal == "points":
            note = review.SECOND_NOTE.format(threshold=flag.detail["threshold"])
    return Card(
        title=f"待审核申领 #{claim.id}",
        fields=tuple(fields),
        image=f"evidence:{claim.evidence_id}" if claim.evidence_id else None,
        note=note,
    )


def approval_title(claim: Claim, rule: Rule, claimant: Employee) -> str:
    """How the approval reads in reminders and 任务."""
    return APPROVAL_TITLE.format(
        claim_id=claim.id, name=claimant.name, code=rule.code, rule=rule.title
    )


def tell_claimant_approved(
    session: Session, claim: Claim, *, award: Award, balance: int, now: datetime
) -> None:
    """通过 +N 分 (bonuses named) and the new balance, to the claimant."""
    text = CLAIM_APPROVED.format(rule=claim.rule.title, award=award.text(), balance=balance)
    enqueue(session, Text(text), now=now, recipient=claim.employee)


def tell_claimant_held(
    session: Session, claim: Claim, approver: Employee, reviewer: Employee, award: Award,
    *, now: datetime,
) -> None:  # fmt: skip
    """初审通过, waiting for the second approval, to the claimant."""
    text = review.HELD_CLAIMANT.format(
        claim_id=claim.id, rule=claim.rule.title, approver=approver.name,
        award=award.text(), second=reviewer.name,
    )  # fmt: skip
    enqueue(session, Text(text), now=now, recipient=claim.employee)


def tell_claimant_rejected(
    session: Session, claim: Claim, *, now: datetime, signer: Signer
) -> None:
    """驳回 and the reason, to the claimant, as a card whose 申诉 is signed for them
    (bot/notices/appeals.py)."""
    card = appeal_notices.rejection_card(claim, now=now, signer=signer)
    enqueue(session, card, now=now, recipient=claim.employee)
