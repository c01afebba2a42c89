"""What suggestions (建议) say: the supervisor's card and choices, the author's news, the draft
started by 💡, and HR's monthly counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.asks.kinds import Choice, Needs
from bot.models import Employee, Suggestion
from bot.outbox import enqueue
from bot.signing import Signer
from bot.timeutil import local_dt
from cards import Button, Card, Field, Text

REVIEW_KIND = "suggestion_review"
IMPLEMENT_KIND = "suggestion_implementation"
BUTTON_LABEL = "💡 建议"

USAGE = "💡 发送「建议 你的想法」提交改善建议，主管会在 72 小时内答复；先发一张照片再发建议，照片会一起附上。"
TOO_SHORT = "建议太短了，请多写几个字说明问题和想法。"
TOO_LONG = "建议请控制在 {limit} 字以内。"
NO_REVIEWER = "你还没有设置主管，系统里也没有 HR，暂时无法提交建议，请联系 HR。"
SUBMITTED = "💡 已提交建议 #{id}，{reviewer} 会在 {due} 前答复。"
SUBMITTED_PHOTO = "（已附照片）"
PHOTO_USED = "已附到建议 #{id}"
DRAFT_PROMPT = "💡 请直接回复你的建议{about}，可先发一张照片。回复「取消」放弃。"
DRAFT_ABOUT = "（关于「{title}」）"
DRAFT_CANCELLED = "已取消，没有提交建议。"
CANCEL_WORDS = ("取消", "cancel")

TITLE = "💡 建议 #{id}：{name} {text}"
CARD_TITLE = "💡 改善建议 #{id}"
DECLINE_TITLE = "不采纳建议 #{id}"
DECLINE_PROMPT = "请选择不采纳的原因，或直接回复文字说明（建议 #{id}）。"
DECLINE_CANCELLED = "已取消，建议 #{id} 仍待答复。"
DECLINE_REASONS = ("已有类似方案", "投入产出不合适", "暂不具备条件")
IMPLEMENT_TITLE = "✅ 建议 #{id} 是否已实施：{name} {text}"
IMPLEMENT_CARD_TITLE = "已采纳建议 #{id} · 实施情况"
IMPLEMENT_NOTE = "实施后点「已实施」，{name} 将获得 {rule} {award}。"
DROP_TITLE = "不实施建议 #{id}"
DROP_PROMPT = "请说明不实施的原因（建议 #{id}）。"
DROP_CANCELLED = "已取消，建议 #{id} 仍待实施。"

ADOPTED = "👍 你的建议 #{id} 已被 {name} 采纳，实施后将获得 {rule} 积分。"
DISCUSSING = "💬 你的建议 #{id}：{name} 认为需要讨论，会找你沟通。"
DECLINED = "你的建议 #{id} 暂不采纳（{name}）。\n原因：{reason}\n感谢你的建议，欢迎继续提出！"
IMPLEMENTED = "🎉 你的建议 #{id} 已实施：{rule} {award}，当前余额 {balance} 分。"
IMPLEMENTED_NO_RULE = "🎉 你的建议 #{id} 已实施，感谢你的改善！"
DROPPED = "你的建议 #{id} 采纳后决定不实施（{name}）。\n原因：{reason}"
ADOPTED_ACK = "已采纳建议 #{id}，已通知 {name}。实施后请在「任务」里点「已实施」。"
DISCUSS_ACK = "已标记需讨论，建议 #{id} 的提醒已停止；讨论后请在「任务」里点「采纳」或「不采纳」。"
DECLINED_ACK = "已答复建议 #{id}（不采纳），已通知 {name}。"
IMPLEMENTED_ACK = "已记录建议 #{id} 实施，{name} 获得 {award}。"
IMPLEMENTED_NO_RULE_ACK = "已记录建议 #{id} 实施（规则 {rule} 已停用，未记分）。"
DROPPED_ACK = "已记录建议 #{id} 不实施，已通知 {name}。"
NOT_YOURS = "这条建议不是交给你答复的。"
ALREADY = "这条建议已由 {name} 于 {time} 答复（{outcome}），无需重复操作。"
NOT_OPEN = "这条建议已经答复过了，无需操作。"

STATS_TITLE = "💡 {month} 建议统计"
STATS_LINE = "{dept}：提交 {submitted} · 72 小时内答复 {on_time} · 超时 {late} · 采纳 {adopted} · 已实施 {implemented}"
STATS_TOTAL = "合计：提交 {submitted} · 72 小时内答复 {on_time} · 超时 {late} · 采纳 {adopted} · 已实施 {implemented}"
STATS_EMPTY = "{month} 还没有建议。"
STATS_BAD_MONTH = "月份格式应为 2026-11，例如「建议 统计 2026-11」。"
STATS_HR_ONLY = "只有 HR 可以查看建议统计。"
STATS_WORDS = ("统计", "stats")
NO_DEPARTMENT = "未分配部门"


def review_choices(suggestion_id: int) -> tuple[Choice, Choice, Choice]:
    """采纳, 需讨论 (stops the clock, the ask stays open), 不采纳 with a reason."""
    return (
        Choice("adopt", "采纳", "primary", outcome="已采纳"),
        Choice("discuss", "需讨论", outcome="需讨论", final=False),
        Choice(
            "decline", "不采纳", "danger", outcome="不采纳", needs=Needs.REASON,
            reasons=DECLINE_REASONS, prompt_title=DECLINE_TITLE.format(id=suggestion_id),
            prompt=DECLINE_PROMPT.format(id=suggestion_id),
            cancelled=DECLINE_CANCELLED.format(id=suggestion_id),
        ),
    )  # fmt: skip


def implement_choices(suggestion_id: int) -> tuple[Choice, Choice]:
    """已实施 credits the rule; 不实施 takes a reason."""
    return (
        Choice("done", "已实施", "primary", outcome="已实施"),
        Choice(
            "drop", "不实施", outcome="不实施", needs=Needs.REASON,
            prompt_title=DROP_TITLE.format(id=suggestion_id),
            prompt=DROP_PROMPT.format(id=suggestion_id),
            cancelled=DROP_CANCELLED.format(id=suggestion_id),
        ),
    )  # fmt: skip


def snippet(text: str, limit: int = 16) -> str:
    """The start of a suggestion for titles."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def review_card(
    suggestion: Suggestion, author: Employee, *, task_title: str | None, due: datetime,
    tz: ZoneInfo,
) -> Card:  # fmt: skip
    """The supervisor's card: the suggestion, who, about which task, by when to answer."""
    dept = author.department.name if author.department else "-"
    fields = [Field("提出人", f"{author.name}（{dept}）")]
    if task_title:
        fields.append(Field("关于任务", task_title))
    fields += [
        Field("提交时间", local_dt(suggestion.created_at, tz)),
        Field("答复期限", f"{local_dt(due, tz)} 前（72 小时）"),
    ]
    return Card(
        title=CARD_TITLE.format(id=suggestion.id),
        lines=(suggestion.text,),
        fields=tuple(fields),
        image=f"evidence:{suggestion.evidence_id}" if suggestion.evidence_id else None,
    )


def implement_card(suggestion: Suggestion, author: Employee, *, note: str) -> Card:
    """The adopter's follow-up card: mark the suggestion implemented (or not)."""
    return Card(
        title=IMPLEMENT_CARD_TITLE.format(id=suggestion.id),
        lines=(suggestion.text,),
        fields=(Field("提出人", author.name),),
        image=f"evidence:{suggestion.evidence_id}" if suggestion.evidence_id else None,
        note=note,
    )


def tell_author(session: Session, suggestion: Suggestion, text: str, *, now: datetime) -> None:
    """One line to the suggestion's author."""
    enqueue(session, Text(text), now=now, recipient=suggestion.employee)


def stats_lines(rows: Sequence[dict[str, object]]) -> list[str]:
    """One line per department, then the total."""
    lines = [STATS_LINE.format(**row) for row in rows]
    keys = ("submitted", "on_time", "late", "adopted", "implemented")
    total = {k: sum(int(r[k]) for r in rows) for k in keys}  # type: ignore[call-overload]
    return [*lines, STATS_TOTAL.format(**total)]


def suggest_button(task_id: int, person_id: int, now: datetime, signer: Signer) -> Button:
    """💡 建议, signed for one person, about one task (0: none): the action `suggest`."""
    return Button(BUTTON_LABEL, signer.sign("suggest", task_id, person_id, now))


def stats_card(month: str, rows: Sequence[dict[str, object]]) -> Card:
    """HR's monthly counts as a card."""
    return Card(
        title=STATS_TITLE.format(month=month), lines=tuple(stats_lines(rows)), note=STATS_NOTE
    )


STATS_NOTE = "72 小时内答复：采纳、需讨论或不采纳都算答复。发送「建议 统计 2026-11」查看其他月份。"
