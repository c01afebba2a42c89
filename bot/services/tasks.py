"""Tasks (任务): work from MES/ERP or the bot with an owner, a due time and an escalation chain.

A task's reminders and escalation are its ask's (kind task_alert, subject task:<id>); the
ask is not announced when the task opens: the chain's first step is the first alert (4 h
after the due time with `overdue`, 2 h after creation with `unclaimed`).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import InvalidInput
from bot.models import Ask, Employee, EscalationPolicy, Task, TaskState
from bot.notices import tasks as notices

NORMAL = "normal"
URGENT = "urgent"


def task_subject(task_id: int) -> str:
    """The subject of a task's ask."""
    return f"task:{task_id}"


def policy_by_name(session: Session, name: str) -> EscalationPolicy | None:
    """An escalation policy by its name."""
    return session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))


def create_task(
    session: Session,
    *,
    owner: Employee,
    title: str,
    now: datetime,
    tz: ZoneInfo,
    kind: str = "task",
    source: str = "bot",
    external_id: str | None = None,
    due_at: datetime | None = None,
    severity: str = NORMAL,
    policy: str | None = None,
    detail: str | None = None,
) -> Task:
    """Create an open task and its alert ask.

    The policy defaults to `overdue` when there is a due time (counted from it), else
    `unclaimed` (counted from now).

    Raises:
        InvalidInput: unknown policy name.
    """
    name = policy or ("overdue" if due_at else "unclaimed")
    if policy_by_name(session, name) is None:
        raise InvalidInput(notices.UNKNOWN_POLICY.format(name=name))
    task = Task(
        kind=kind,
        title=title[:200],
        detail=detail[:500] if detail else None,
        owner_id=owner.id,
        due_at=due_at,
        source=source,
        external_id=external_id,
        state=TaskState.OPEN,
        severity=severity,
        last_update_at=now,
        created_at=now,
    )
    session.add(task)
    session.flush()
    asks.open_ask(
        session,
        kind=notices.ALERT_KIND,
        subject=task_subject(task.id),
        owner=owner,
        title=task.title,
        card=notices.alert_card(task, owner.name, tz),
        choices=notices.alert_choices(),
        now=now,
        due_at=due_at,
        policy=name,
        anchor_at=due_at if name == "overdue" and due_at else now,
        severity=severity,
        told_may_answer=True,
        announce=False,
    )
    return task


def task_ask(session: Session, task: Task) -> Ask | None:
    """The task's alert ask (the newest, live or not)."""
    return session.scalars(
        select(Ask).where(Ask.subject == task_subject(task.id)).order_by(Ask.id.desc()).limit(1)
    ).first()


def acknowledge_task(session: Session, task: Task, actor: Employee, now: datetime) -> None:
    """知道了·处理中: someone is on it."""
    task.state = TaskState.ACKNOWLEDGED
    task.acknowledged_by_id, task.acknowledged_at, task.last_update_at = actor.id, now, now


def complete_task(session: Session, task: Task, actor: Employee, now: datetime) -> None:
    """已完成: the task is closed."""
    task.state = TaskState.DONE
    task.closed_by_id, task.closed_at, task.last_update_at = actor.id, now, now
