"""What task alerts (任务与预警) say: their card, choices and replies."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.asks.kinds import Choice
from bot.models import Task, TaskState
from bot.timeutil import local_dt
from cards import Card, Field

ALERT_KIND = "task_alert"
ACK_LABEL = "知道了·处理中"
DONE_LABEL = "已完成"
ACKED_REPLY = "👌 已确认「{title}」，升级提醒已停止。完成后请点「已完成」。"
DONE_REPLY = "✅ 已完成「{title}」，辛苦了！"
NOT_INVOLVED = "这个任务与你无关，无法操作。"
ALREADY_CLOSED = "这个任务已由 {name} 于 {time} 处理（{outcome}），无需操作。"
UNKNOWN_POLICY = "未知的升级策略：{name}"
STATE_LABELS = {
    TaskState.OPEN: "进行中",
    TaskState.ACKNOWLEDGED: "处理中",
    TaskState.DONE: "已完成",
    TaskState.CANCELLED: "已取消",
}
SEVERITY_LABELS = {"urgent": "紧急", "normal": "普通"}


def alert_choices() -> tuple[Choice, Choice]:
    """知道了·处理中 stops the reminders; 已完成 closes the task."""
    return (
        Choice("ack", ACK_LABEL, "primary", outcome="已确认", final=False),
        Choice("done", DONE_LABEL, outcome="已完成"),
    )


def alert_card(task: Task, owner_name: str, tz: ZoneInfo) -> Card:
    """A task alert's content: what, whose, due, how urgent."""
    fields = [Field("负责人", owner_name)]
    if task.due_at is not None:
        fields.append(Field("截止", local_dt(task.due_at, tz)))
    fields.append(Field("级别", SEVERITY_LABELS.get(task.severity, "普通")))
    return Card(
        title=task.title,
        lines=(task.detail,) if task.detail else (),
        fields=tuple(fields),
    )
