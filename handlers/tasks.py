"""知道了·处理中 / 已完成 on alert cards, and 任务: the sender's open tasks."""

from __future__ import annotations

from bot.context import HandlerContext
from bot.models import TaskState
from bot.services.escalation import (
    ACKED_REPLY,
    DONE_LABEL,
    DONE_REPLY,
    STATE_LABELS,
    acknowledge_task,
    complete_task,
    open_tasks,
)
from bot.signing import Action
from bot.timeutil import local_dt
from cards import Button, Card, Message, Text

NO_TASKS = "你目前没有待办任务。👍"
TASKS_TITLE = "我的待办任务"


def handle_task_ack(ctx: HandlerContext, action: Action) -> list[Message]:
    """知道了·处理中: stops the escalation chain."""
    task = acknowledge_task(ctx.session, action.object_id, ctx.sender, now=ctx.now, tz=ctx.tz)
    return [Text(ACKED_REPLY.format(title=task.title))]


def handle_task_done(ctx: HandlerContext, action: Action) -> list[Message]:
    """已完成: closes the task."""
    task = complete_task(ctx.session, action.object_id, ctx.sender, now=ctx.now, tz=ctx.tz)
    return [Text(DONE_REPLY.format(title=task.title))]


def handle_tasks(ctx: HandlerContext, args: str) -> list[Message]:
    """任务 / tasks: open tasks with due times and a 已完成 button each."""
    tasks = open_tasks(ctx.session, ctx.sender.id)
    if not tasks:
        return [Text(NO_TASKS)]
    lines = tuple(
        f"#{t.id} {t.title}"
        + (f"（截止 {local_dt(t.due_at, ctx.tz)}）" if t.due_at else "")
        + f" · {STATE_LABELS[TaskState(t.state)]}"
        for t in tasks
    )
    buttons = tuple(Button(f"{DONE_LABEL} #{t.id}", ctx.sign("task_done", t.id)) for t in tasks[:3])
    return [Card(title=TASKS_TITLE, lines=lines, buttons=buttons)]
