"""escalation_tick: every minute, run the reminder and escalation steps of asks that are due."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import asks

if TYPE_CHECKING:
    from bot.jobs.base import JobContext


def run_escalation_tick(ctx: JobContext) -> str:
    """One tick over the due asks; returns counts."""
    report = asks.tick(ctx.session, ctx.now, signer=ctx.signer, tz=ctx.tz, calendar=ctx.calendar)
    return f"due={report.due} notified={report.notified} deferred={report.deferred}"
