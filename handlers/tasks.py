"""Task alerts (任务/预警) as asks: 知道了·处理中 stops the reminders, 已完成 closes the task."""

from __future__ import annotations

from bot import asks
from bot.models import Task
from bot.notices import tasks as notices
from bot.services.tasks import acknowledge_task, complete_task
from cards import Message, Text


def _on_answer(answer: asks.Answer) -> list[Message]:
    task = answer.session.get(Task, int((answer.ask.subject or "task:0").split(":")[1]))
    title = task.title if task is not None else answer.ask.title
    if answer.choice.key == "ack":
        if task is not None:
            acknowledge_task(answer.session, task, answer.actor, answer.now)
        return [Text(notices.ACKED_REPLY.format(title=title))]
    if task is not None:
        complete_task(answer.session, task, answer.actor, answer.now)
    return [Text(notices.DONE_REPLY.format(title=title))]


TASK_ALERT = asks.register(
    asks.AskKind(
        notices.ALERT_KIND,
        _on_answer,
        already_answered=notices.ALREADY_CLOSED,
        not_yours=notices.NOT_INVOLVED,
    )
)
