"""What engineering changes (变更影响) say: the ask kinds and their choices, the replies, and
the messages the change service sends to authors, supervisors and owners (design §13)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.asks.kinds import Choice, Needs
from bot.models import Change, Employee
from bot.outbox import enqueue
from cards import Card, Field, Text

IMPACT_KIND = "change_impact"
NOTICE_KIND = "change_notice"
NEGOTIATION_KIND = "change_negotiation"
RETEST_KIND = "change_retest"
POLICY = "change"
LEDGER_KIND = "change"
LEDGER_CATEGORY = "变更"
LEDGER_MEMO = "变更 #{change_id} {external_id} {version} 重测补偿（重测 #{retest_id}）"

IMPACT_TITLE = "变更通知 · {version} {title}"
NEGOTIATION_TITLE = "变更协商 · {owner} · {version} {title}"
RETEST_TITLE = "重测任务 · {version} {title}"
FEEDBACK_TITLE = "变更反馈 · {version} {title}"

# Owner's replies
ACCEPTED = "✅ 已接受变更「{title}」。重测任务已发给你，请在 {due} 前提交重测报告。"
NEGOTIATING = "已把协商意见发给 {author}，他回复后请重新确认。"
REJECTED = "已拒绝变更「{title}」，已通知 {people}。"
REPORT_TAKEN = "已收到重测报告，请选择重测结果：通过 或 不通过。"
RETEST_DONE = "✅ 重测已登记：{result}。"
RETEST_CREDITED = "✅ 重测已登记：{result}。补偿 +{points} 分已入账，当前余额 {balance} 分。"
RETEST_DONE_FOR = "✅ 已替 {owner} 登记重测：{result}，补偿 +{points} 分记入其积分。"
RESULT_WORDS = {"pass": "通过", "fail": "不通过"}
# Notify people's and the author's replies
NOTICE_CONFIRMED = "👌 已确认变更「{title}」无误。"
NOTICE_SENT = "已把你的反馈发给 {author}。"
NEGOTIATION_SENT = "已回复 {owner}（{outcome}），等待其重新确认。"
# Refusals
CHANGE_CLOSED = "变更「{title}」已经关闭，无需操作。"
NOT_OWNER = "这项变更确认不是发给你的，无法操作。"
ALREADY_ANSWERED = "这项变更确认已由 {name} 于 {time} 处理（{outcome}），无需重复操作。"
CLOSED_OUTCOME = "变更已关闭"
DONE_OUTCOME = "变更已完成"

# To others
TO_AUTHOR_REJECTED = "❌ {owner} 拒绝了变更「{version} {title}」\n原因：{reason}"
TO_SUPERVISOR_REJECTED = (
    "❌ 你的组员 {owner} 拒绝了变更「{version} {title}」（发起人 {author}）\n原因：{reason}"
)
TO_OWNER_BY_API = "📋 PLM 已登记你在变更「{version} {title}」的重测结果：{result}。"
TO_OWNER_BY_API_CREDITED = TO_OWNER_BY_API + "补偿 +{points} 分已入账。"
TO_OWNER_BY_OTHER = "📋 {name} 已替你登记变更「{version} {title}」的重测结果：{result}。"
TO_AUTHOR_DONE = "✅ 变更「{version} {title}」已全部确认{retests}，状态：已完成。"
DONE_RETESTS = "，重测 {reported} 项已报告（首次重测用时 {hours} 小时）"
TO_AUTHOR_CLOSED = "变更「{version} {title}」已由 {name} 关闭：{reason}"
ADJUSTED_LINE = "发起人同意调整：{reason}"
MAINTAINED_LINE = "发起人维持原方案：{reason}"
NEGOTIATION_LINE = "{owner} 需协商：{reason}"
FEEDBACK_LINE = "{name}：{outcome}"


def impact_title(change: Change) -> str:
    """`变更通知 · B 3号模具冲头尺寸变更`."""
    return IMPACT_TITLE.format(version=change.version, title=change.title)


def short_title(change: Change) -> str:
    """`B 3号模具冲头尺寸变更`, as replies name a change."""
    return f"{change.version} {change.title}"


def impact_choices(change: Change, *, negotiable: bool = True) -> tuple[Choice, ...]:
    """接受, 需协商 and 拒绝 with a reason (after a negotiation: 接受 and 拒绝 only)."""
    name = short_title(change)
    cancelled = f"已取消，变更「{name}」仍待你确认。"
    choices = [
        Choice("accept", "接受", "primary", outcome="已接受"),
        Choice("negotiate", "需协商", outcome="需协商", needs=Needs.REASON,
               reasons=("工时不足", "补偿偏低", "排产冲突"), prompt_title=f"需协商：{name}",
               prompt="请选择或直接回复需要协商的内容（工时、补偿、排产），发起人会收到并回复。",
               cancelled=cancelled),
        Choice("reject", "拒绝", "danger", outcome="已拒绝", needs=Needs.REASON,
               reasons=("不属于我负责的模块", "技术上不可行"), prompt_title=f"拒绝：{name}",
               prompt="请选择或直接回复拒绝原因，发起人和你的主管会收到。", cancelled=cancelled),
    ]  # fmt: skip
    return tuple(c for c in choices if negotiable or c.key != "negotiate")


def notice_choices(change: Change) -> tuple[Choice, ...]:
    """确认无误, 需补充信息 (a text or a photo) and 存在误解 (a text)."""
    name = short_title(change)
    cancelled = f"已取消，变更「{name}」的通知仍待你确认。"
    return (
        Choice("confirm", "确认无误", "primary", outcome="确认无误"),
        Choice("more_info", "需补充信息", outcome="需补充信息", needs=Needs.TEXT_OR_PHOTO,
               prompt_title=f"需补充信息：{name}",
               prompt="请发送需要补充的信息：文字或照片，发起人会收到。", cancelled=cancelled),
        Choice("misunderstanding", "存在误解", "danger", outcome="存在误解", needs=Needs.TEXT,
               prompt_title=f"存在误解：{name}", prompt="请说明哪里存在误解，发起人会收到。",
               cancelled=cancelled),
    )  # fmt: skip


def negotiation_choices(change: Change, owner: Employee) -> tuple[Choice, ...]:
    """同意调整 / 维持原方案, each with a reason the owner reads before confirming again."""
    name = short_title(change)
    cancelled = f"已取消，{owner.name} 的协商仍待你回复。"
    return (
        Choice("adjust", "同意调整", "primary", outcome="同意调整", needs=Needs.REASON,
               reasons=("按所提意见调整",), prompt_title=f"同意调整：{name}",
               prompt=f"请说明如何调整（工时、补偿或排期），{owner.name} 会收到并重新确认。",
               cancelled=cancelled),
        Choice("maintain", "维持原方案", outcome="维持原方案", needs=Needs.REASON,
               reasons=("方案已评审，无法调整",), prompt_title=f"维持原方案：{name}",
               prompt=f"请说明维持原方案的理由，{owner.name} 会收到并重新确认。",
               cancelled=cancelled),
    )  # fmt: skip


def retest_choices(change: Change) -> tuple[Choice, ...]:
    """提交重测报告 (a photo or a text) first, then 通过 / 不通过."""
    name = short_title(change)
    return (
        Choice("report", "提交重测报告", "primary", outcome="已提交报告", final=False,
               needs=Needs.TEXT_OR_PHOTO, prompt_title=f"提交重测报告：{name}",
               prompt="请发送重测报告：一张照片，或文字说明（测量值、结论）。之后选择通过或不通过。",
               cancelled=f"已取消，变更「{name}」的重测任务仍待完成。"),
        Choice("pass", "通过", "primary", outcome="重测通过", after="report"),
        Choice("fail", "不通过", "danger", outcome="重测不通过", after="report"),
    )  # fmt: skip


# -- messages to others --------------------------------------------------------------------------


def tell_rejected(
    session: Session,
    change: Change,
    owner: Employee,
    reason: str,
    *,
    supervisor: Employee | None,
    now: datetime,
) -> None:
    """拒绝 reaches the author and the owner's supervisor, with the reason."""
    values = {"owner": owner.name, "version": change.version, "title": change.title,
              "reason": reason, "author": change.author.name}  # fmt: skip
    enqueue(session, Text(TO_AUTHOR_REJECTED.format(**values)), now=now, recipient=change.author)
    if supervisor is not None and supervisor.id != change.author_id:
        text = Text(TO_SUPERVISOR_REJECTED.format(**values))
        enqueue(session, text, now=now, recipient=supervisor)


def feedback_card(
    change: Change, person: Employee, outcome: str, note: str | None, evidence_id: int | None
) -> Card:
    """需补充信息 / 存在误解 from someone notified, for the author (with their text or photo)."""
    lines = (FEEDBACK_LINE.format(name=person.name, outcome=outcome), *((note,) if note else ()))
    return Card(
        title=FEEDBACK_TITLE.format(version=change.version, title=change.title),
        lines=lines,
        fields=(Field("变更单", f"{change.source} {change.external_id}"),),
        image=f"evidence:{evidence_id}" if evidence_id else None,
    )
