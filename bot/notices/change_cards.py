"""The cards of an engineering change (变更影响): an owner's impact card, the notice, the
author's negotiation card, the retest task, and the live summary for the author and HR."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.models import Change, ChangeStatus, Employee
from bot.notices.changes import IMPACT_TITLE, NEGOTIATION_TITLE, RETEST_TITLE
from bot.timeutil import local_dt
from cards import Card, Field

SUMMARY_TITLE = "变更进度 · {version} {title}"
MATRIX_HEAD = "影响（对象 / 动作 / 预计工时 / 补偿）："
MATRIX_ROW = "· {object} / {action} / {hours} 小时 / +{points} 分"
OWNER_NOTE = "接受后会收到重测任务；需协商、拒绝请写明原因。"
NOTICE_NOTE = "请确认通知内容；需补充信息可回复文字或照片。"
NOTICE_SCOPE = "影响 {owners} 人，共 {rows} 项："
NEGOTIATION_NOTE = "请回复：同意调整，或维持原方案，并写明理由。"
RETEST_NOTE = "先点「提交重测报告」发送照片或文字，再选择通过或不通过。"
RETEST_DUE = "{due} 前"
SUMMARY_NOTE = "进度随确认自动更新；发送「变更 {id}」查看最新。"
DESCRIPTION_MAX = 80
MATRIX_SHOWN = 5
NAMES_SHOWN = 8
NEGOTIATION_ROW = "协商：{name}（{reason}）· {state}"
REJECTION_ROW = "拒绝：{name}（{reason}）"
REPLY_STATES = {
    "": "待发起人回复",
    "adjust": "发起人同意调整，待重新确认",
    "maintain": "发起人维持原方案，待重新确认",
}
STATUS_WORDS = {ChangeStatus.OPEN: "进行中", ChangeStatus.CLOSED: "已关闭"}


def summary_key(change_id: int) -> str:
    """The key of a change's summary card: every copy (author's, HR's) follows each answer."""
    return f"change:{change_id}"


def _hours(value: float) -> str:
    return f"{value:g}"


class MatrixRow(Protocol):
    """One impact row as cards show it: a ChangeImpact, or the same values before insert."""

    @property
    def object(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def hours(self) -> float: ...
    @property
    def compensation_points(self) -> int: ...


def matrix_lines(impacts: Sequence[MatrixRow]) -> tuple[str, ...]:
    """The impact matrix rows (对象 / 动作 / 预计工时 / 补偿), at most a phone screen of them."""
    rows = [
        MATRIX_ROW.format(object=i.object, action=i.action, hours=_hours(i.hours),
                          points=i.compensation_points)
        for i in impacts[:MATRIX_SHOWN]
    ]  # fmt: skip
    if len(impacts) > MATRIX_SHOWN:
        rows.append(f"· 另有 {len(impacts) - MATRIX_SHOWN} 项")
    return (MATRIX_HEAD, *rows)


def _description(change: Change) -> tuple[str, ...]:
    text = (change.description or "").strip()
    if not text:
        return ()
    return (text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…",)


def _change_fields(change: Change) -> tuple[Field, ...]:
    return (
        Field("生效日期", change.effective_date.isoformat()),
        Field("发起人", change.author.name),
        Field("变更单", f"{change.source} {change.external_id}"),
    )


def impact_card(
    change: Change, impacts: Sequence[MatrixRow], *, first_line: str | None = None
) -> Card:
    """An owner's card: their impact rows, the effective date (接受 / 需协商 / 拒绝 come from
    the asks engine); `first_line` carries the author's answer after a negotiation."""
    lines = (*((first_line,) if first_line else ()), *matrix_lines(impacts), *_description(change))
    return Card(
        title=IMPACT_TITLE.format(version=change.version, title=change.title),
        lines=lines,
        fields=(
            *_change_fields(change),
            Field("重测期限", f"生效后 {change.retest_due_hours} 小时"),
        ),
        note=OWNER_NOTE,
    )


def notice_card(change: Change, impacts: Sequence[MatrixRow], owners: int) -> Card:
    """The notice for someone in `notify`: what changes and whom it affects."""
    scope = NOTICE_SCOPE.format(owners=owners, rows=len(impacts))
    return Card(
        title=IMPACT_TITLE.format(version=change.version, title=change.title),
        lines=(*_description(change), scope, *matrix_lines(impacts)[1:]),
        fields=_change_fields(change),
        note=NOTICE_NOTE,
    )


def negotiation_card(
    change: Change, owner: Employee, reason: str, impacts: Sequence[MatrixRow]
) -> Card:
    """For the author: the owner's wish to negotiate, with their impact rows."""
    return Card(
        title=NEGOTIATION_TITLE.format(
            owner=owner.name, version=change.version, title=change.title
        ),
        lines=(f"{owner.name}：{reason}", *matrix_lines(impacts)),
        fields=(
            Field("变更单", f"{change.source} {change.external_id}"),
            Field("生效日期", change.effective_date.isoformat()),
        ),  # fmt: skip
        note=NEGOTIATION_NOTE,
    )


def retest_card(
    change: Change, impacts: Sequence[MatrixRow], due_at: datetime, tz: ZoneInfo
) -> Card:
    """The retest task (重测任务): what to retest, by when."""
    points = sum(i.compensation_points for i in impacts)
    return Card(
        title=RETEST_TITLE.format(version=change.version, title=change.title),
        lines=matrix_lines(impacts),
        fields=(
            Field("截止", RETEST_DUE.format(due=local_dt(due_at, tz))),
            Field("补偿", f"+{points} 分"),
            Field("变更单", f"{change.source} {change.external_id}"),
        ),
        note=RETEST_NOTE,
    )


@dataclass(frozen=True)
class Progress:
    """What the summary shows: confirmations, who is pending, negotiations, rejections,
    retests, notice feedback, and the first-retest figures."""

    total: int = 0
    accepted: int = 0
    rejected: int = 0
    negotiating: int = 0
    pending: tuple[str, ...] = ()
    negotiations: tuple[tuple[str, str | None, str | None], ...] = ()  # name, reason, reply
    rejections: tuple[tuple[str, str | None], ...] = ()  # name, reason
    retests_reported: int = 0
    retests_passed: int = 0
    retests_failed: int = 0
    notices: dict[str, int] = field(default_factory=dict)
    first_retest_hours: float | None = None
    week_median_hours: float | None = None
    week_changes: int = 0
    baseline_hours: int = 72


def _names(names: Sequence[str]) -> str:
    shown = "、".join(names[:NAMES_SHOWN])
    return shown + (f" 等 {len(names)} 人" if len(names) > NAMES_SHOWN else "")


def summary_card(change: Change, progress: Progress) -> Card:
    """The live summary (变更进度) for the author and HR; one key, so every copy follows."""
    p = progress
    lines = [
        f"确认 {p.accepted + p.rejected}/{p.total}：接受 {p.accepted} · 拒绝 {p.rejected}"
        f" · 协商中 {p.negotiating}"
    ]
    if p.pending:
        lines.append(f"待确认 {len(p.pending)} 人：{_names(p.pending)}")
    lines += [
        NEGOTIATION_ROW.format(name=name, reason=reason or "-", state=REPLY_STATES.get(reply or ""))
        for name, reason, reply in p.negotiations[:NAMES_SHOWN]
    ]
    lines += [
        REJECTION_ROW.format(name=name, reason=reason or "-")
        for name, reason in p.rejections[:NAMES_SHOWN]
    ]
    lines.append(
        f"重测已报告 {p.retests_reported}/{p.accepted}：通过 {p.retests_passed}"
        f" · 不通过 {p.retests_failed}"
    )
    if p.notices:
        n = p.notices
        lines.append(
            f"通知反馈：确认无误 {n.get('confirmed', 0)} · 需补充信息 {n.get('need_info', 0)}"
            f" · 存在误解 {n.get('misunderstanding', 0)} · 未回复 {n.get('waiting', 0)}"
        )
    first = "尚无" if p.first_retest_hours is None else f"{p.first_retest_hours:.1f} 小时"
    lines.append(f"首次重测：{first}（基线 {p.baseline_hours} 小时）")
    if p.week_median_hours is not None:
        lines.append(f"当周中位数：{p.week_median_hours:.1f} 小时（{p.week_changes} 个变更）")
    return Card(
        title=SUMMARY_TITLE.format(version=change.version, title=change.title),
        lines=tuple(lines),
        fields=(
            Field("变更单", f"{change.source} {change.external_id}"),
            Field("生效日期", change.effective_date.isoformat()),
            Field("发起人", change.author.name),
            Field("状态", STATUS_WORDS.get(ChangeStatus(change.status), change.status)),
        ),
        note=SUMMARY_NOTE.format(id=change.id),
        key=summary_key(change.id),
    )
