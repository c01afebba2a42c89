"""Tasks and their escalation chains (任务与升级), Grafana OnCall style.

A task carries the index of its next step and `next_step_at`; the tick reads only tasks whose
`next_step_at` has come (an index range scan), runs that step — a small function per `notify`
kind that returns its recipients — logs one EscalationLog row per person told, queues one alert
card per person (buttons signed for that person) and schedules the following step.
Acknowledging (知道了) stops the chain; 已完成 closes the task; every copy of every alert card of
the task then shows the new state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.db import bulk_insert
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.models import (
    Claim,
    ClaimState,
    Employee,
    EscalationLog,
    EscalationPolicy,
    Task,
    TaskState,
)
from bot.outbox import CardBatch, close_card, current_card, publish_card
from bot.services.workcal import WorkCalendar, load_calendar
from bot.signing import Signer
from bot.timeutil import local_dt, local_hm
from cards import Button, Card, Field

ACK_LABEL = "知道了·处理中"
DONE_LABEL = "已完成"
ACK_NOTE = "已确认 · {name} · {time}，处理中"
DONE_STATUS = "已完成 · {name} · {time}"
CLOSED_STATUS = "已关闭（{reason}）"
ACKED_REPLY = "👌 已确认「{title}」，升级提醒已停止。完成后请点「已完成」。"
DONE_REPLY = "✅ 已完成「{title}」，辛苦了！"
CLAIM_STILL_PENDING = (
    "申领 #{claim_id} 还在等待审核：请在审核卡片上点「通过」或「驳回」（发送「待审」查看）。"
)
ALREADY_CLOSED = "这个任务已经关闭（{state}），无需操作。"
ALREADY_ACKED = "这个任务已由 {name} 确认，升级提醒已停止。"
NOT_INVOLVED = "这个任务与你无关，无法操作。"
CC_NOTE = "抄送：{owner} 的任务，请跟进。"
URGENT = "urgent"
NORMAL = "normal"
STATE_LABELS = {
    TaskState.OPEN: "进行中",
    TaskState.ACKNOWLEDGED: "处理中",
    TaskState.DONE: "已完成",
    TaskState.CANCELLED: "已取消",
}
# Step 0 of a chain counts from this moment of the task; later steps from the previous step.
ANCHORS: dict[str, Callable[[Task], datetime]] = {
    "overdue": lambda t: t.due_at or t.created_at,
    "stale": lambda t: t.last_update_at,
}


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one executed step did (oncall's small named result)."""

    action: str
    result: str  # triggered | deferred | resolved | exhausted
    recipients: tuple[int, ...] = ()


@dataclass
class TickReport:
    """Counts from one escalation tick."""

    due: int = 0
    notified: int = 0
    deferred: int = 0
    resolved: int = 0


# -- creating tasks --------------------------------------------------------------------------------


def policy_by_name(session: Session, name: str) -> EscalationPolicy | None:
    """An escalation policy by its name."""
    return session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))


def first_step_at(task: Task, policy: EscalationPolicy | None) -> datetime | None:
    """When the first step of the task's chain is due (None: no chain)."""
    if policy is None or not policy.steps:
        return None
    anchor = ANCHORS.get(policy.name, lambda t: t.created_at)(task)
    return anchor + timedelta(minutes=int(policy.steps[0].get("wait_minutes", 0)))


def create_task(
    session: Session,
    *,
    owner: Employee,
    title: str,
    now: datetime,
    kind: str = "task",
    source: str = "bot",
    external_id: str | None = None,
    due_at: datetime | None = None,
    severity: str = NORMAL,
    policy: str | None = None,
    detail: str | None = None,
) -> Task:
    """Create an open task and schedule its chain's first step.

    The policy defaults to `overdue` when there is a due time, else `unclaimed`.

    Raises:
        InvalidInput: unknown policy name.
    """
    name = policy or ("overdue" if due_at else "unclaimed")
    chain = policy_by_name(session, name)
    if chain is None:
        raise InvalidInput(f"未知的升级策略：{name}")
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
        policy_id=chain.id,
        step=0,
        last_update_at=now,
        created_at=now,
    )
    task.next_step_at = first_step_at(task, chain)
    session.add(task)
    session.flush()
    return task


# -- who is told -----------------------------------------------------------------------------------


def _notify_owner(session: Session, task: Task) -> list[Employee]:
    return [task.owner]


def _notify_owner_and_supervisor(session: Session, task: Task) -> list[Employee]:
    people = [task.owner]
    if task.owner.supervisor is not None:
        people.append(task.owner.supervisor)
    return people


def _notify_next_level(session: Session, task: Task) -> list[Employee]:
    """One level above the highest person told so far (owner → supervisor → their supervisor)."""
    told = set(
        session.scalars(
            select(EscalationLog.recipient_id).where(
                EscalationLog.task_id == task.id, EscalationLog.result == "triggered"
            )
        )
    )
    person = task.owner
    while person.id in told and person.supervisor is not None:
        person = person.supervisor
    return [person]


NOTIFY: dict[str, Callable[[Session, Task], list[Employee]]] = {
    "owner": _notify_owner,
    "owner+supervisor": _notify_owner_and_supervisor,
    "next_level": _notify_next_level,
}


def _approval_resolved(session: Session, task: Task) -> bool:
    claim = session.get(Claim, int(task.external_id or 0))
    return claim is None or claim.state != ClaimState.PENDING


# kind -> "has the thing this task waits for already happened?" (checked before every step)
RESOLVED: dict[str, Callable[[Session, Task], bool]] = {"approval": _approval_resolved}


# -- the alert card --------------------------------------------------------------------------------


def alert_card(
    task: Task,
    policy: EscalationPolicy,
    recipient: Employee,
    *,
    step: int,
    signer: Signer,
    now: datetime,
    tz: ZoneInfo,
) -> Card:
    """The alert for one recipient: what, whose, due; 知道了·处理中 and 已完成 signed for them."""
    icon = "🚨" if task.severity == URGENT else "⏰"
    fields = [Field("负责人", task.owner.name)]
    if task.due_at is not None:
        fields.append(Field("截止", local_dt(task.due_at, tz)))
    fields.append(Field("级别", "紧急" if task.severity == URGENT else "普通"))
    lines = (task.detail,) if task.detail else ()
    return Card(
        title=f"{icon} {policy.title}：{task.title}",
        lines=lines,
        fields=tuple(fields),
        buttons=(
            Button(ACK_LABEL, signer.sign("task_ack", task.id, recipient.id, now), "primary"),
            Button(DONE_LABEL, signer.sign("task_done", task.id, recipient.id, now)),
        ),
        note=CC_NOTE.format(owner=task.owner.name) if recipient.id != task.owner_id else None,
        key=f"task:{task.id}:{step}:{recipient.id}:{int(now.timestamp())}",
    )


@dataclass
class _Batch:
    """What a tick writes in bulk at the end of each batch: alert cards and log rows."""

    cards: CardBatch = field(default_factory=CardBatch)
    logs: list[dict] = field(default_factory=list)

    def queue_card(self, card: Card, recipient: Employee, now: datetime) -> None:
        """Queue a card whose key is brand new."""
        self.cards.add(card, recipient.id, now)

    def log(self, task: Task, action: str, result: str, now: datetime, **kw: object) -> None:
        """One EscalationLog row."""
        row = {"task_id": task.id, "step": task.step, "action": action, "result": result,
               "recipient_id": None, "card_key": None, "detail": None, "created_at": now}  # fmt: skip
        row.update(kw)
        self.logs.append(row)

    def write(self, session: Session) -> None:
        """Insert everything collected, then start afresh."""
        self.cards.write(session)
        bulk_insert(session, EscalationLog, self.logs)
        self.logs = []


# -- the tick --------------------------------------------------------------------------------------


def _run_step(
    session: Session,
    task: Task,
    policy: EscalationPolicy,
    now: datetime,
    calendar: WorkCalendar,
    signer: Signer,
    batch: _Batch,
) -> StepResult:
    steps = policy.steps
    if task.kind in RESOLVED and RESOLVED[task.kind](session, task):
        task.state, task.closed_at, task.next_step_at = TaskState.DONE, now, None
        batch.log(task, "resolved", "resolved", now)
        _close_cards(session, task, CLOSED_STATUS.format(reason="已处理"), now)
        return StepResult("resolved", "resolved")
    if task.step >= len(steps):
        task.next_step_at = None
        return StepResult("none", "exhausted")
    step = steps[task.step]
    if task.severity != URGENT:
        at = calendar.push_time(now)
        if at > now:
            task.next_step_at = at
            detail = f"quiet hours or holiday until {at.isoformat()}"
            batch.log(task, step["notify"], "deferred", now, detail=detail)
            return StepResult(step["notify"], "deferred")
    people = NOTIFY[step["notify"]](session, task)
    for person in people:
        card = alert_card(
            task, policy, person, step=task.step, signer=signer, now=now, tz=calendar.tz
        )
        batch.queue_card(card, person, now)
        batch.log(task, step["notify"], "triggered", now, recipient_id=person.id, card_key=card.key)
    if task.step + 1 < len(steps):
        task.step += 1
        task.next_step_at = now + timedelta(minutes=int(steps[task.step].get("wait_minutes", 0)))
    elif step.get("repeat"):
        task.next_step_at = now + timedelta(minutes=int(step["repeat"]))
    else:
        task.step += 1
        task.next_step_at = None
    return StepResult(step["notify"], "triggered", tuple(p.id for p in people))


def escalation_tick(
    session: Session,
    now: datetime,
    *,
    signer: Signer,
    tz: ZoneInfo,
    batch: int = 1000,
    kinds: tuple[str, ...] | None = None,
    calendar: WorkCalendar | None = None,
) -> TickReport:
    """Run every escalation step that is due at `now`; returns what happened.

    Only tasks with `next_step_at <= now` are read (ix_tasks_next_step_at), `batch` at a time;
    on PostgreSQL the rows are locked and a concurrent tick skips them.
    """
    calendar = calendar or load_calendar(session, tz, now.astimezone(tz).date())
    policies = {p.id: p for p in session.scalars(select(EscalationPolicy))}
    report = TickReport()
    pending = _Batch()
    seen: set[int] = set()
    while True:
        query = (
            select(Task)
            .where(Task.next_step_at <= now)
            .order_by(Task.next_step_at, Task.id)
            .limit(batch)
            .options(selectinload(Task.owner).selectinload(Employee.supervisor))
            .with_for_update(skip_locked=True, of=Task)
        )
        if kinds:
            query = query.where(Task.kind.in_(kinds))
        tasks = [t for t in session.scalars(query) if t.id not in seen]
        if not tasks:
            break
        for task in tasks:
            seen.add(task.id)
            report.due += 1
            policy = policies.get(task.policy_id or 0)
            if policy is None or task.state not in (TaskState.OPEN,):
                task.next_step_at = None
                continue
            result = _run_step(session, task, policy, now, calendar, signer, pending)
            report.notified += len(result.recipients)
            report.deferred += result.result == "deferred"
            report.resolved += result.result == "resolved"
        pending.write(session)
        session.flush()
        if len(tasks) < batch:
            break
    return report


# -- acknowledging and closing ---------------------------------------------------------------------


def _card_keys(session: Session, task_id: int) -> list[str]:
    return list(
        session.scalars(
            select(EscalationLog.card_key)
            .where(EscalationLog.task_id == task_id, EscalationLog.card_key.is_not(None))
            .order_by(EscalationLog.id)
        )
    )


def _close_cards(session: Session, task: Task, status: str, now: datetime) -> None:
    for key in _card_keys(session, task.id):
        close_card(session, key, status, now=now)


def _load_for_action(session: Session, task_id: int, actor: Employee) -> Task:
    task = session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFound("没有找到这个任务。")
    told = set(
        session.scalars(select(EscalationLog.recipient_id).where(EscalationLog.task_id == task_id))
    )
    if actor.id != task.owner_id and actor.id not in told:
        raise NotAllowed(NOT_INVOLVED)
    if task.state in (TaskState.DONE, TaskState.CANCELLED):
        raise InvalidInput(ALREADY_CLOSED.format(state=STATE_LABELS[TaskState(task.state)]))
    return task


def acknowledge_task(
    session: Session, task_id: int, actor: Employee, *, now: datetime, tz: ZoneInfo
) -> Task:
    """知道了·处理中: stop the chain, record who and when, and show it on every card copy.

    Raises:
        NotFound, NotAllowed (not the owner nor told about it), InvalidInput (already closed
        or already acknowledged).
    """
    task = _load_for_action(session, task_id, actor)
    if task.state == TaskState.ACKNOWLEDGED:
        by = session.get(Employee, task.acknowledged_by_id or 0)
        raise InvalidInput(ALREADY_ACKED.format(name=by.name if by else "他人"))
    task.state, task.next_step_at = TaskState.ACKNOWLEDGED, None
    task.acknowledged_by_id, task.acknowledged_at, task.last_update_at = actor.id, now, now
    session.add(
        EscalationLog(
            task_id=task.id, step=task.step, action="acknowledged", recipient_id=actor.id,
            result="acknowledged", created_at=now,
        )
    )  # fmt: skip
    note = ACK_NOTE.format(name=actor.name, time=local_hm(now, tz))
    for key in _card_keys(session, task.id):
        card = current_card(session, key)
        if card is not None:
            done = tuple(b for b in card.buttons if b.label == DONE_LABEL)
            publish_card(session, replace(card, buttons=done, note=note), now=now)
    session.flush()
    return task


def complete_task(
    session: Session, task_id: int, actor: Employee, *, now: datetime, tz: ZoneInfo
) -> Task:
    """已完成: close the task and show it on every card copy.

    Raises:
        NotFound, NotAllowed, InvalidInput (already closed).
    """
    task = _load_for_action(session, task_id, actor)
    if task.kind == "approval" and task.source == "claim" and (task.external_id or "").isdigit():
        # An approval reminder is done when the claim is decided, not when it is dismissed.
        claim = session.get(Claim, int(task.external_id))
        if claim is not None and claim.state == ClaimState.PENDING:
            raise InvalidInput(CLAIM_STILL_PENDING.format(claim_id=claim.id))
    task.state, task.next_step_at = TaskState.DONE, None
    task.closed_by_id, task.closed_at, task.last_update_at = actor.id, now, now
    session.add(
        EscalationLog(
            task_id=task.id, step=task.step, action="done", recipient_id=actor.id,
            result="done", created_at=now,
        )
    )  # fmt: skip
    _close_cards(session, task, DONE_STATUS.format(name=actor.name, time=local_hm(now, tz)), now)
    session.flush()
    return task


def open_tasks(session: Session, owner_id: int, limit: int = 5) -> list[Task]:
    """The owner's open or in-progress tasks, soonest due first."""
    return list(
        session.scalars(
            select(Task)
            .where(
                Task.owner_id == owner_id,
                Task.state.in_((TaskState.OPEN, TaskState.ACKNOWLEDGED)),
            )
            .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
            .limit(limit)
        )
    )
