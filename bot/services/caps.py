"""Anti-farming limits on claims (防刷分): daily and weekly caps per rule, held however claims
arrive, and the lock that makes them hold.

A cap is checked twice: at submission (pending and approved claims count, so no more can wait
than may pass) and again at approval, inside the transaction that credits (approved claims of
the claim's own day or week count, so credit never exceeds the cap even when a cap was lowered
meanwhile or claims slipped in before this check existed). Both run after
`serialize_claims_of`, so two transactions never count the same state.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import LimitReached
from bot.models import Claim, ClaimState, Employee, Rule
from bot.notices import claims as notices
from bot.timeutil import day_start, week_start

COUNTED_STATES = (ClaimState.PENDING, ClaimState.APPROVED)


def serialize_claims_of(session: Session, employee: Employee) -> None:
    """Take the employee's claim lock for the rest of the transaction.

    On PostgreSQL a row lock on the employee (FOR NO KEY UPDATE: rows that merely reference the
    employee are not held up) queues every submission and approval of that person's claims,
    in any process, so caps, "one photo, one claim" and photo reuse are each checked against
    committed state. SQLite queues every writer already (BEGIN IMMEDIATE, bot/db.py).
    """
    session.execute(
        select(Employee.id).where(Employee.id == employee.id).with_for_update(key_share=True)
    )


def count_claims(
    session: Session,
    employee_id: int,
    rule_id: int,
    since: datetime,
    until: datetime | None = None,
    *,
    states: tuple[str, ...] = COUNTED_STATES,
    exclude_id: int | None = None,
) -> int:
    """Claims of one person under one rule created in [since, until)."""
    conditions = [
        Claim.employee_id == employee_id,
        Claim.rule_id == rule_id,
        Claim.state.in_(states),
        Claim.created_at >= since,
    ]
    if until is not None:
        conditions.append(Claim.created_at < until)
    if exclude_id is not None:
        conditions.append(Claim.id != exclude_id)
    return int(session.scalar(select(func.count(Claim.id)).where(*conditions)) or 0)


def check_caps(
    session: Session, employee: Employee, rule: Rule, now: datetime, tz: ZoneInfo
) -> None:
    """At submission. Raises LimitReached when a daily or weekly cap would be exceeded."""
    if rule.daily_cap is not None:
        n = count_claims(session, employee.id, rule.id, day_start(now, tz))
        if n >= rule.daily_cap:
            raise LimitReached(
                notices.DAILY_CAP.format(rule=rule.title, count=n, cap=rule.daily_cap)
            )
    if rule.weekly_cap is not None:
        n = count_claims(session, employee.id, rule.id, week_start(now, tz))
        if n >= rule.weekly_cap:
            raise LimitReached(
                notices.WEEKLY_CAP.format(rule=rule.title, count=n, cap=rule.weekly_cap)
            )


def check_caps_at_approval(session: Session, claim: Claim, tz: ZoneInfo) -> None:
    """At approval: credit stays within the caps of the day and week the claim was made.

    Raises:
        LimitReached: with a text for the approver; the claim stays pending.
    """
    rule = claim.rule
    windows = (
        (rule.daily_cap, day_start(claim.created_at, tz), 1, "daily"),
        (rule.weekly_cap, week_start(claim.created_at, tz), 7, "weekly"),
    )
    for cap, start, days, kind in windows:
        if cap is None:
            continue
        n = count_claims(
            session,
            claim.employee_id,
            rule.id,
            start,
            _local_days_later(start, days, tz),
            states=(ClaimState.APPROVED,),
            exclude_id=claim.id,
        )
        if n >= cap:
            raise LimitReached(
                notices.cap_reached_at_approval(claim, kind=kind, count=n, cap=cap, tz=tz)
            )


def _local_days_later(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Local midnight `days` after the local midnight `start`, in UTC (a DST day is 23 or 25 h)."""
    local = start.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(local, time(), tz).astimezone(UTC)
