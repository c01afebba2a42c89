"""escalation_tick: every minute, run the escalation steps that are due."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.escalation import escalation_tick

if TYPE_CHECKING:
    from bot.jobs.base import JobContext


def run_escalation_tick(ctx: JobContext) -> str:
    """One tick over the due tasks; returns counts."""
    report = escalation_tick(
        ctx.session, ctx.now, signer=ctx.signer, tz=ctx.tz, calendar=ctx.calendar
    )
    return (
        f"due={report.due} notified={report.notified} "
        f"deferred={report.deferred} resolved={report.resolved}"
    )
