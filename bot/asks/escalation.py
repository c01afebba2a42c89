"""Reminders and escalation of open asks (提醒与升级), Grafana OnCall style.

An ask carries a snapshot of its chain (`steps`, minutes from its anchor), the index of its
next step and `next_step_at`. The tick reads only asks whose `next_step_at` has come (an index
range scan, rows locked and skipped by a concurrent tick on PostgreSQL), runs that step — a
small function per `notify` kind returns who is told — queues one card per person (a reminder
with the choices for those who may answer, a copy with 知道了 for the others), logs one row
per person, and schedules the next step. Durations are wall-clock from the anchor; a step that
falls in quiet hours or on a day off goes out at the next working start (design §12).
Nothing here knows what an ask is about: features add kinds, not code here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.asks.engine import ack_button, choice_buttons, content_of, told_ids
from bot.db import bulk_insert
from bot.models import Ask, AskLog, AskState, Employee, Role
from bot.notices import asks as texts
from bot.outbox import CardBatch
from bot.services.workcal import WorkCalendar, load_calendar
from bot.signing import Signer
from cards import Card

URGENT = "urgent"


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one executed step did (oncall's small named result)."""

    action: str
    result: str  # triggered | deferred | exhausted
    recipients: tuple[int, ...] = ()


@dataclass
class TickReport:
    """Counts from one tick."""

    due: int = 0
    notified: int = 0
    deferred: int = 0


# -- who is told -----------------------------------------------------------------------------------


def _owner(session: Session, ask: Ask) -> list[Employee]:
    return [ask.owner]


def _owner_and_supervisor(session: Session, ask: Ask) -> list[Employee]:
    return [ask.owner, *_supervisor(session, ask)]


def _supervisor(session: Session, ask: Ask) -> list[Employee]:
    return [ask.owner.supervisor] if ask.owner.supervisor is not None else []


def _next_level(session: Session, ask: Ask) -> list[Employee]:
    """One level above the highest person told so far (owner → supervisor → their supervisor)."""
    told = told_ids(session, ask)
    person = ask.owner
    while person.id in told and person.supervisor is not None:
        person = person.supervisor
    return [person]


def _hr(session: Session, ask: Ask) -> list[Employee]:
    return list(
        session.scalars(
            select(Employee)
            .where(Employee.role == Role.HR, Employee.active.is_(True))
            .order_by(Employee.id)
        )
    )


NOTIFY: dict[str, Callable[[Session, Ask], list[Employee]]] = {
    "owner": _owner,
    "owner+supervisor": _owner_and_supervisor,
    "supervisor": _supervisor,
    "next_level": _next_level,
    "hr": _hr,
    "next_level+hr": lambda s, a: _next_level(s, a) + _hr(s, a),
}


# -- the cards -------------------------------------------------------------------------------------


def reminder_card(ask: Ask, person: Employee, *, now: datetime, signer: Signer) -> Card:
    """The step's card for one person told now: the ask with its choices for those who may
    answer it, with 知道了 for the others (who also get a note saying whose it is)."""
    content = content_of(ask)
    icon = texts.URGENT_ICON if ask.severity == URGENT else texts.REMINDER_ICON
    title = texts.REMINDER_TITLE.format(
        icon=icon, policy=ask.policy_title or "提醒", title=ask.title
    )
    cc = person.id != ask.owner_id and person.id not in (ask.delegate_ids or ())
    return Card(
        title=title,
        lines=content.lines,
        fields=content.fields,
        image=content.image,
        note=texts.CC_NOTE.format(owner=ask.owner.name) if cc else content.note,
        buttons=(
            choice_buttons(ask, person.id, now=now, signer=signer)
            if not cc or ask.told_may_answer
            else (ack_button(ask, person.id, now=now, signer=signer),)
        ),
        key=f"ask:{ask.id}:s{ask.step}.{int(now.timestamp())}:{person.id}",
    )


@dataclass
class _Batch:
    """What a tick writes in bulk at the end of each batch: cards and log rows."""

    cards: CardBatch = field(default_factory=CardBatch)
    logs: list[dict] = field(default_factory=list)

    def log(self, ask: Ask, action: str, result: str, now: datetime, **kw: object) -> None:
        row = {"ask_id": ask.id, "step": ask.step, "action": action, "result": result,
               "recipient_id": None, "card_key": None, "detail": None, "created_at": now}  # fmt: skip
        row.update(kw)
        self.logs.append(row)

    def write(self, session: Session) -> None:
        self.cards.write(session)
        bulk_insert(session, AskLog, self.logs)
        self.logs = []


# -- the tick --------------------------------------------------------------------------------------


def _run_step(
    session: Session,
    ask: Ask,
    now: datetime,
    calendar: WorkCalendar,
    signer: Signer,
    batch: _Batch,
) -> StepResult:
    steps = ask.steps or []
    if ask.step >= len(steps):
        ask.next_step_at = None
        return StepResult("none", "exhausted")
    step = steps[ask.step]
    if ask.severity != URGENT:
        at = calendar.push_time(now)
        if at > now:
            ask.next_step_at = at
            detail = f"quiet hours or day off until {at.isoformat()}"
            batch.log(ask, step["notify"], "deferred", now, detail=detail)
            return StepResult(step["notify"], "deferred")
    people = NOTIFY[step["notify"]](session, ask)
    for person in people:
        card = reminder_card(ask, person, now=now, signer=signer)
        batch.cards.add(card, person.id, now)
        batch.log(ask, step["notify"], "triggered", now, recipient_id=person.id, card_key=card.key)
    if ask.step + 1 < len(steps):
        ask.step += 1
        ask.next_step_at = max(ask.anchor_at + timedelta(minutes=steps[ask.step]["at"]), now)
    elif step.get("repeat"):
        ask.next_step_at = now + timedelta(minutes=int(step["repeat"]))
    else:
        ask.step += 1
        ask.next_step_at = None
    return StepResult(step["notify"], "triggered", tuple(p.id for p in people))


def tick(
    session: Session,
    now: datetime,
    *,
    signer: Signer,
    tz: ZoneInfo,
    batch: int = 1000,
    kinds: tuple[str, ...] | None = None,
    calendar: WorkCalendar | None = None,
) -> TickReport:
    """Run every reminder and escalation step due at `now`; returns what happened.

    Only asks with `next_step_at <= now` are read (ix_asks_next_step_at), `batch` at a time;
    on PostgreSQL the rows are locked and a concurrent tick skips them.
    """
    calendar = calendar or load_calendar(session, tz, now.astimezone(tz).date())
    report = TickReport()
    pending = _Batch()
    seen: set[int] = set()
    while True:
        query = (
            select(Ask)
            .where(Ask.next_step_at <= now)
            .order_by(Ask.next_step_at, Ask.id)
            .limit(batch)
            .options(selectinload(Ask.owner).selectinload(Employee.supervisor))
            .with_for_update(skip_locked=True, of=Ask)
        )
        if kinds:
            query = query.where(Ask.kind.in_(kinds))
        asks = [a for a in session.scalars(query) if a.id not in seen]
        if not asks:
            break
        for ask in asks:
            seen.add(ask.id)
            report.due += 1
            if ask.state != AskState.OPEN:
                ask.next_step_at = None
                continue
            result = _run_step(session, ask, now, calendar, signer, pending)
            report.notified += len(result.recipients)
            report.deferred += result.result == "deferred"
        pending.write(session)
        session.flush()
        if len(asks) < batch:
            break
    return report
