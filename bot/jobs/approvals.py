"""approval_reminders (every 10 min): claims waiting too long remind their approver.

A claim pending for more than `approval_reminder.after_hours` (settings; 4 h by default) gets a
Task(kind="approval", source="claim", external_id=<claim id>) on the `approval` chain: the
approver is reminded at once, and 24 h later the approver's supervisor is copied. The unique
(source, external_id) pair means a claim is only ever tasked once, and the tick closes the task
without sending anything once the claim is decided.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.models import Claim, ClaimState, Task
from bot.services.escalation import create_task, escalation_tick
from bot.services.workcal import get_setting

if TYPE_CHECKING:
    from bot.jobs.base import JobContext

SOURCE = "claim"
KIND = "approval"
TITLE = "审核申领 #{claim_id}：{name} {code} {rule}"
DETAIL = "已等待超过 {hours} 小时，发送「待审」查看并审核。"
DEFAULT = {"after_hours": 4}


def run_approval_reminders(ctx: JobContext) -> str:
    """Task every claim pending past the threshold, then run the approval steps now due."""
    session = ctx.session
    hours = float(get_setting(session, "approval_reminder", DEFAULT).get("after_hours", 4))
    cutoff = ctx.now - timedelta(hours=hours)
    claims = list(
        session.scalars(
            select(Claim)
            .where(
                Claim.state == ClaimState.PENDING,
                Claim.created_at <= cutoff,
                Claim.approver_id.is_not(None),
            )
            .options(selectinload(Claim.employee), selectinload(Claim.rule))
            .order_by(Claim.id)
        )
    )
    tasked = set(
        session.scalars(
            select(Task.external_id).where(
                Task.source == SOURCE, Task.external_id.in_([str(c.id) for c in claims])
            )
        )
    )
    created = 0
    for claim in claims:
        if str(claim.id) in tasked or claim.approver is None:
            continue
        create_task(
            session,
            owner=claim.approver,
            title=TITLE.format(
                claim_id=claim.id, name=claim.employee.name, code=claim.rule.code,
                rule=claim.rule.title,
            ),
            detail=DETAIL.format(hours=f"{hours:g}"),
            now=ctx.now,
            kind=KIND,
            source=SOURCE,
            external_id=str(claim.id),
            policy="approval",
        )  # fmt: skip
        created += 1
    report = escalation_tick(
        session, ctx.now, signer=ctx.signer, tz=ctx.tz, kinds=(KIND,), calendar=ctx.calendar
    )
    return f"new={created} notified={report.notified} resolved={report.resolved}"
