"""approval_reminders (every 10 min): step the reminders of claims waiting for approval.

A claim's approval ask reminds its approver once it has waited `approval_reminder.after_hours`
(settings; 4 h by default), and 24 h later copies the approver's supervisor (policy
`approval`). `escalation_tick` steps every ask each minute; this job runs the same steps for
approvals alone, so approvals keep their reminders with a scheduler that only runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import asks
from bot.notices.claims import APPROVAL_KIND

if TYPE_CHECKING:
    from bot.jobs.base import JobContext


def run_approval_reminders(ctx: JobContext) -> str:
    """Run the approval steps now due; returns counts."""
    report = asks.tick(
        ctx.session,
        ctx.now,
        signer=ctx.signer,
        tz=ctx.tz,
        kinds=(APPROVAL_KIND,),
        calendar=ctx.calendar,
    )
    return f"due={report.due} notified={report.notified} deferred={report.deferred}"
