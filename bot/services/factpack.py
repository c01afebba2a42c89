"""The 1:1 fact pack (面谈资料): what a supervisor needs before a one-to-one (design §14).

* Tasks over 12 weeks, from the asks engine. A task is an ask addressed to the person that
  carries a due time (approvals, task alerts, check-ins, change confirmations, retests, …);
  anonymous asks (360 questions) are left out, so taking part in a survey is never graded.
  On time = answered by its due time; late = answered after it; missed = its due time has
  passed without an answer (still waiting, or closed after the due time, e.g. an expired
  check-in). An ask withdrawn before its due time, or not yet due, does not count.
* Key actions: the highest-value approved claims of the period, with their photos.
* Likes received in the period.
* Peer comments: text answers from released 360 results only (never below three raters).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Ask, AskLog, AskState, Claim, ClaimState, Employee, Like, Role
from bot.services.ledger import balance
from bot.services.likes import likes_received
from bot.services.survey_results import released_comments
from bot.timeutil import day_start, week_start

WEEKS = 12
KEY_CLAIMS = 3
COMMENTS = 3
CHAIN_DEPTH = 10  # supervisor levels walked to find whether someone is in a lead's team
ON_TIME, LATE, MISSED = "on_time", "late", "missed"


@dataclass
class FactPack:
    """Everything the fact pack shows about one person."""

    person: Employee
    first_monday: date  # the heatmap's first column
    today: date
    days: dict[date, Counter[str]] = field(default_factory=dict)
    totals: Counter[str] = field(default_factory=Counter)
    points: int = 0
    key_claims: list[Claim] = field(default_factory=list)
    likes: list[Like] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def on_time_rate(self) -> int | None:
        """Percent of counted tasks done on time; None when nothing counted."""
        counted = sum(self.totals.values())
        return round(100 * self.totals[ON_TIME] / counted) if counted else None


def may_view(viewer: Employee, person: Employee) -> bool:
    """HR and admins may see anyone's fact pack; a lead sees the people below them (direct
    reports and their reports), never their own."""
    if viewer.role in (Role.HR, Role.ADMIN):
        return True
    boss, depth = person.supervisor, 0
    while boss is not None and depth < CHAIN_DEPTH:
        if boss.id == viewer.id:
            return viewer.id != person.id
        boss, depth = boss.supervisor, depth + 1
    return False


def leads_anyone(session: Session, viewer: Employee) -> bool:
    """True for HR, admins, supervisors, and anyone with an active direct report."""
    if viewer.role in (Role.HR, Role.ADMIN, Role.SUPERVISOR):
        return True
    return (
        session.scalar(
            select(Employee.id)
            .where(Employee.supervisor_id == viewer.id, Employee.active.is_(True))
            .limit(1)
        )
        is not None
    )


def task_outcomes(
    session: Session, person: Employee, start: datetime, end: datetime, now: datetime
) -> list[tuple[datetime, str]]:
    """(due time, on_time | late | missed) of the person's counted tasks due in [start, end)."""
    asks = list(
        session.scalars(
            select(Ask).where(
                Ask.owner_id == person.id,
                Ask.anonymous.is_(False),
                Ask.due_at.is_not(None),
                Ask.due_at >= start,
                Ask.due_at < end,
            )
        )
    )
    closed_ids = [a.id for a in asks if a.state == AskState.CLOSED]
    closed_at: dict[int, datetime] = {}
    if closed_ids:
        closed_at = dict(
            session.execute(
                select(AskLog.ask_id, func.min(AskLog.created_at))
                .where(AskLog.ask_id.in_(closed_ids), AskLog.action == "closed")
                .group_by(AskLog.ask_id)
            ).all()
        )
    out = []
    for ask in asks:
        due = ask.due_at
        assert due is not None
        if ask.state == AskState.ANSWERED and ask.answered_at is not None:
            out.append((due, ON_TIME if ask.answered_at <= due else LATE))
        elif ask.state == AskState.CLOSED:
            if closed_at.get(ask.id, now) > due:
                out.append((due, MISSED))
        elif due < now:
            out.append((due, MISSED))
    return out


def key_claims(session: Session, person: Employee, since: datetime) -> list[Claim]:
    """The person's highest-value approved claims since `since`, newest first among equals."""
    return list(
        session.scalars(
            select(Claim)
            .where(
                Claim.employee_id == person.id,
                Claim.state == ClaimState.APPROVED,
                Claim.decided_at >= since,
            )
            .order_by(Claim.points_credited.desc(), Claim.decided_at.desc(), Claim.id.desc())
            .limit(KEY_CLAIMS)
        )
    )


def build_factpack(
    session: Session, person: Employee, *, now: datetime, tz: ZoneInfo,
    neutral: Callable[[str], str] = str,
) -> FactPack:  # fmt: skip
    """The person's fact pack over the 12 weeks up to today (this week included). `neutral`
    rewrites a peer comment without emotional words; empty results are skipped."""
    start = week_start(now, tz) - timedelta(weeks=WEEKS - 1)
    pack = FactPack(person, start.astimezone(tz).date(), now.astimezone(tz).date())
    days: dict[date, Counter[str]] = defaultdict(Counter)
    tomorrow = day_start(now, tz) + timedelta(days=1)
    for due, outcome in task_outcomes(session, person, start, tomorrow, now):
        days[due.astimezone(tz).date()][outcome] += 1
        pack.totals[outcome] += 1
    pack.days = dict(days)
    pack.points = balance(session, person.id, start)
    pack.key_claims = key_claims(session, person, start)
    pack.likes = likes_received(session, person, start)
    comments = [neutral(c) for c in released_comments(session, person, limit=COMMENTS * 4)]
    pack.comments = [c for c in comments if c][:COMMENTS]
    return pack
