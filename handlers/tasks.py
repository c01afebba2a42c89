"""Task alerts (任务/预警) as asks: 知道了·处理中 stops the reminders, 已完成 closes the task."""

from __future__ import annotations

from datetime import datetime

from bot import asks
from bot.models import Ask, Task
from bot.notices import tasks as notices
from bot.notices.suggestions import suggest_button
from bot.services.tasks import acknowledge_task, complete_task
from bot.signing import Signer
from cards import Button, Message, Text


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


def _suggest_button(ask: Ask, person_id: int, now: datetime, signer: Signer) -> tuple[Button, ...]:
    """💡 on every task card: a suggestion about this task (design §15)."""
    task_id = int((ask.subject or "task:0").split(":")[1])
    return (suggest_button(task_id, person_id, now, signer),)


TASK_ALERT = asks.register(
    asks.AskKind(
        notices.ALERT_KIND,
        _on_answer,
        already_answered=notices.ALREADY_CLOSED,
        not_yours=notices.NOT_INVOLVED,
        extra_buttons=_suggest_button,
    )
)
