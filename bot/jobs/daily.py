"""daily_tasks (workdays ~08:57): each active worker's 今日可得分任务.

A short card per worker: the rules most claimed in their department over the last 30 days,
the campaign bonuses running today, and their own open tasks with due times. Someone with
nothing in any of the three gets nothing (no empty pushes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    Campaign,
    Claim,
    ClaimState,
    Employee,
    Role,
    Rule,
    Task,
    TaskState,
)
from bot.notices.suggestions import suggest_button
from bot.outbox import enqueue_many
from bot.services.campaigns import award_for
from bot.timeutil import local_dt
from cards import Card

if TYPE_CHECKING:
    from bot.jobs.base import JobContext

TITLE = "📋 今日可得分任务"
RULES_HEADER = "本部门常得分："
CAMPAIGNS_HEADER = "活动加分："
TASKS_HEADER = "我的待办："
NOTE = "拍照发送即可申领；发送「任务」查看全部待办。"
TOP_RULES = 3
TASKS_SHOWN = 3
LOOKBACK = timedelta(days=30)


def popular_rules(session: Session, since: datetime) -> dict[int, list[Rule]]:
    """department id → its most claimed active rules since `since` (approved or pending)."""
    count = func.count(Claim.id).label("n")
    rows = session.execute(
        select(Employee.department_id, Claim.rule_id, count)
        .join(Employee, Employee.id == Claim.employee_id)
        .where(
            Claim.created_at >= since,
            Claim.state.in_((ClaimState.APPROVED, ClaimState.PENDING)),
            Employee.department_id.is_not(None),
        )
        .group_by(Employee.department_id, Claim.rule_id)
        .order_by(Employee.department_id, count.desc(), Claim.rule_id)
    ).all()
    rules = {r.id: r for r in session.scalars(select(Rule).where(Rule.active.is_(True)))}
    by_dept: dict[int, list[Rule]] = defaultdict(list)
    for dept_id, rule_id, _n in rows:
        if rule_id in rules and len(by_dept[dept_id]) < TOP_RULES:
            by_dept[dept_id].append(rules[rule_id])
    return by_dept


def running_campaigns(session: Session, now: datetime) -> list[Campaign]:
    """Campaigns whose window contains `now`."""
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.active.is_(True), Campaign.starts_at <= now, Campaign.ends_at > now)
            .order_by(Campaign.id)
        )
    )


def open_tasks_by_owner(session: Session) -> dict[int, list[Task]]:
    """owner id → open/in-progress tasks, soonest due first."""
    tasks: dict[int, list[Task]] = defaultdict(list)
    for task in session.scalars(
        select(Task)
        .where(Task.state.in_((TaskState.OPEN, TaskState.ACKNOWLEDGED)))
        .order_by(Task.owner_id, Task.due_at.is_(None), Task.due_at, Task.id)
    ):
        tasks[task.owner_id].append(task)
    return tasks


def daily_card(
    rules: list[Rule], campaigns: list[Campaign], tasks: list[Task], ctx: JobContext
) -> Card | None:
    """The card for one worker, or None when there is nothing to say. A rule's points are
    what a claim made now earns, campaign bonuses named (`+22（含上线推广 +2）`)."""
    lines: list[str] = []
    if rules:
        lines.append(RULES_HEADER)
        lines += [
            f"· {r.code} {r.title} {award_for(ctx.session, r, ctx.now).short()}" for r in rules
        ]
    if campaigns:
        lines.append(CAMPAIGNS_HEADER)
        lines += [
            f"· {c.name}：每次申领 +{c.bonus_points}（至 {local_dt(c.ends_at, ctx.tz)}）"
            for c in campaigns
        ]
    if tasks:
        lines.append(TASKS_HEADER)
        lines += [
            f"· {t.title}" + (f"（截止 {local_dt(t.due_at, ctx.tz)}）" if t.due_at else "")
            for t in tasks[:TASKS_SHOWN]
        ]
    if not lines:
        return None
    return Card(title=TITLE, lines=tuple(lines), note=NOTE)


def run_daily_tasks(ctx: JobContext) -> str:
    """Queue one card per active worker with something to say; returns counts."""
    session = ctx.session
    rules = popular_rules(session, ctx.now - LOOKBACK)
    campaigns = running_campaigns(session, ctx.now)
    tasks = open_tasks_by_owner(session)
    workers = session.scalars(
        select(Employee)
        .where(Employee.active.is_(True), Employee.role == Role.WORKER)
        .order_by(Employee.id)
    )
    rows: list[tuple[int, dict[str, Any]]] = []
    skipped = 0
    for person in workers:
        card = daily_card(
            rules.get(person.department_id or 0, []), campaigns, tasks.get(person.id, []), ctx
        )
        if card is None:
            skipped += 1
            continue
        button = suggest_button(0, person.id, ctx.now, ctx.signer)
        rows.append((person.id, replace(card, buttons=(button,)).to_dict()))
    sent = enqueue_many(session, rows, ctx.now)
    return f"sent={sent} nothing_to_say={skipped}"
