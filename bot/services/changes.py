"""Engineering changes (变更影响, design §13): announce a change to every affected owner and to
the people to notify, one ask each, in the caller's transaction; find, lock and close changes.

An impact names an owner (employee_no) or a module, whose owners come from module_owners. The
asks of a change share the subject `change:<id>`; what their answers mean is kept in
change_acks, change_notices and change_retests (bot/services/change_answers.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import asks
from bot.asks.engine import LIVE
from bot.db import bulk_insert
from bot.errors import NotFound
from bot.models import (
    AckDecision,
    Ask,
    AuditLog,
    Change,
    ChangeAck,
    ChangeImpact,
    ChangeNotice,
    ChangeStatus,
    Employee,
    ModuleOwner,
    Role,
)
from bot.notices import change_cards as cards
from bot.notices import changes as notices
from bot.outbox import enqueue
from bot.services.change_report import publish_summary
from bot.signing import Signer
from cards import Text

ACTIVE_EMPLOYEE = "no active employee with this employee_no"
UNKNOWN_MODULE = "unknown module: import its owners with `python -m bot import-modules`"
MODULE_WITHOUT_OWNER = "module has no active owner"
OWNER_OR_MODULE = "give either owner or module"
TOO_MANY_ROWS = "{rows} impact rows once modules are expanded to their owners; at most {limit}"
MAX_ROWS = 20_000


class FieldError(ValueError):
    """Input the change service refuses, naming the field at fault (`impacts[2].module`);
    raised before anything is written."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True, slots=True)
class ImpactDraft:
    """One row of the impact matrix as posted: an owner's employee_no or a module."""

    object: str
    action: str
    hours: float
    compensation_points: int
    owner: str | None = None
    module: str | None = None


@dataclass(frozen=True, slots=True)
class ImpactRow:
    """One owner's row of the impact matrix, as inserted into change_impacts."""

    owner_id: int
    position: int
    module: str | None
    object: str
    action: str
    hours: float
    compensation_points: int

    def values(self, change_id: int) -> dict[str, object]:
        """The change_impacts row."""
        return {"change_id": change_id, "owner_id": self.owner_id, "position": self.position,
                "module": self.module, "object": self.object, "action": self.action,
                "hours": self.hours, "compensation_points": self.compensation_points}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChangeDraft:
    """A change as PLM posts it (design §13)."""

    source: str
    external_id: str
    version: str
    title: str
    effective_date: date
    author: str
    impacts: Sequence[ImpactDraft]
    description: str = ""
    notify: Sequence[str] = ()
    retest_due_hours: int = 24


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """What the change services need besides the session."""

    now: datetime
    tz: ZoneInfo
    signer: Signer


def change_subject(change_id: int) -> str:
    """The subject every ask of a change shares."""
    return f"change:{change_id}"


def change_id_of(ask: Ask) -> int:
    """The change an ask is about (its subject `change:<id>`)."""
    return int((ask.subject or "change:0").split(":")[1])


def effective_start(change: Change, tz: ZoneInfo) -> datetime:
    """The start of the effective date in the factory's time zone."""
    return datetime.combine(change.effective_date, time(), tz)


def confirm_by(change: Change, ctx: ChangeContext) -> datetime | None:
    """When owners should have confirmed: the start of the effective date, if still ahead."""
    start = effective_start(change, ctx.tz)
    return start if start > ctx.now else None


def find_change(session: Session, source: str, external_id: str) -> Change | None:
    """The change PLM posted under (source, external_id), if any."""
    return session.scalar(
        select(Change).where(Change.source == source, Change.external_id == external_id)
    )


def lock_change(session: Session, change_id: int) -> Change:
    """Lock and return a change: its answers are taken one at a time, so the last one sees
    every other and closes the change. Raises NotFound."""
    change = session.get(Change, change_id, with_for_update=True, populate_existing=True)
    if change is None:
        raise NotFound()
    return change


def impacts_of(session: Session, change_id: int, owner_id: int | None = None) -> list[ChangeImpact]:
    """A change's impact rows (one owner's, if given), in the order they were posted."""
    query = select(ChangeImpact).where(ChangeImpact.change_id == change_id)
    if owner_id is not None:
        query = query.where(ChangeImpact.owner_id == owner_id)
    return list(session.scalars(query.order_by(ChangeImpact.position, ChangeImpact.id)))


# -- creating a change -----------------------------------------------------------------------------


def _active_by_number(session: Session, numbers: set[str]) -> dict[str, Employee]:
    if not numbers:
        return {}
    people = session.scalars(select(Employee).where(Employee.employee_no.in_(numbers)))
    return {p.employee_no: p for p in people if p.active}


def _module_owners(session: Session, modules: set[str]) -> tuple[set[str], dict[str, list]]:
    """(modules that exist, module → its active owners in import order)."""
    if not modules:
        return set(), {}
    rows = session.execute(
        select(ModuleOwner.module, Employee)
        .join(Employee, Employee.id == ModuleOwner.employee_id)
        .where(ModuleOwner.module.in_(modules))
        .order_by(ModuleOwner.id)
    )
    known: set[str] = set()
    owners: dict[str, list[Employee]] = {}
    for module, person in rows:
        known.add(module)
        if person.active:
            owners.setdefault(module, []).append(person)
    return known, owners


def resolve_impacts(session: Session, impacts: Sequence[ImpactDraft]) -> list[list[Employee]]:
    """The owners each impact names, in order.

    Raises:
        FieldError: `impacts[i]`, `impacts[i].owner` or `impacts[i].module` at the first
        impact that names nobody reachable; `impacts` when the matrix, modules expanded,
        would exceed MAX_ROWS rows.
    """
    numbers = {i.owner for i in impacts if i.owner}
    people = _active_by_number(session, numbers)
    known, module_owners = _module_owners(session, {i.module for i in impacts if i.module})
    resolved: list[list[Employee]] = []
    for index, impact in enumerate(impacts):
        if bool(impact.owner) == bool(impact.module):
            raise FieldError(f"impacts[{index}]", OWNER_OR_MODULE)
        if impact.owner:
            if impact.owner not in people:
                raise FieldError(f"impacts[{index}].owner", ACTIVE_EMPLOYEE)
            resolved.append([people[impact.owner]])
            continue
        assert impact.module is not None
        if impact.module not in known:
            raise FieldError(f"impacts[{index}].module", UNKNOWN_MODULE)
        if not module_owners.get(impact.module):
            raise FieldError(f"impacts[{index}].module", MODULE_WITHOUT_OWNER)
        resolved.append(module_owners[impact.module])
    rows = sum(len(owners) for owners in resolved)
    if rows > MAX_ROWS:
        raise FieldError("impacts", TOO_MANY_ROWS.format(rows=rows, limit=MAX_ROWS))
    return resolved


def create_change(session: Session, draft: ChangeDraft, ctx: ChangeContext) -> Change:
    """Create the change and open, in this transaction and in bulk, one ask for every affected
    owner (接受 / 需协商 / 拒绝) and one notice for everyone in `notify` who is not an owner
    (确认无误 / 需补充信息 / 存在误解); the author gets the live summary.

    Raises:
        FieldError: unknown or inactive author, notify entry, owner or module (nothing is
        written).
    """
    people = _active_by_number(session, {draft.author, *draft.notify})
    if draft.author not in people:
        raise FieldError("author", ACTIVE_EMPLOYEE)
    for index, number in enumerate(draft.notify):
        if number not in people:
            raise FieldError(f"notify[{index}]", ACTIVE_EMPLOYEE)
    owners_of = resolve_impacts(session, draft.impacts)
    author = people[draft.author]
    change = Change(
        source=draft.source, external_id=draft.external_id, version=draft.version,
        title=draft.title, description=draft.description or "",
        effective_date=draft.effective_date, author_id=author.id,
        retest_due_hours=draft.retest_due_hours, status=ChangeStatus.OPEN, created_at=ctx.now,
    )  # fmt: skip
    change.author = author
    session.add(change)
    session.flush()
    rows: dict[int, list[ImpactRow]] = {}
    owners: dict[int, Employee] = {}
    for position, (impact, named) in enumerate(zip(draft.impacts, owners_of, strict=True)):
        for owner in named:
            owners[owner.id] = owner
            rows.setdefault(owner.id, []).append(
                ImpactRow(owner.id, position, impact.module, impact.object, impact.action,
                          float(impact.hours), impact.compensation_points)
            )  # fmt: skip
    # Owners already get their own card; the author follows the summary.
    notified = {
        people[n].id: people[n]
        for n in draft.notify
        if people[n].id not in owners and people[n].id != author.id
    }
    # Plain rows in bulk (COPY on PostgreSQL): a change may reach hundreds of owners.
    bulk_insert(
        session,
        ChangeImpact,
        [r.values(change.id) for owner_rows in rows.values() for r in owner_rows],
    )
    bulk_insert(
        session,
        ChangeAck,
        [
            {"change_id": change.id, "owner_id": oid, "decision": AckDecision.PENDING}
            for oid in owners
        ],
    )
    bulk_insert(session, ChangeNotice, [{"change_id": change.id, "employee_id": pid}
                                        for pid in notified])  # fmt: skip
    _announce(session, change, rows, owners, list(notified.values()), ctx)
    session.add(
        AuditLog(actor_id=author.id, action="change.create", object_type="change",
                 object_id=str(change.id), created_at=ctx.now,
                 detail={"source": change.source, "external_id": change.external_id,
                         "owners": len(owners), "notified": len(notified)})
    )  # fmt: skip
    return change


def _announce(
    session: Session,
    change: Change,
    rows: dict[int, list[ImpactRow]],
    owners: dict[int, Employee],
    notified: list[Employee],
    ctx: ChangeContext,
) -> None:
    """The owners' asks, the notices and the author's summary, queued in bulk."""
    subject, due = change_subject(change.id), confirm_by(change, ctx)
    title = notices.impact_title(change)
    choices = notices.impact_choices(change)
    asks.open_asks(
        session, kind=notices.IMPACT_KIND, now=ctx.now, signer=ctx.signer, policy=notices.POLICY,
        asks=[
            asks.NewAsk(owner=owners[oid], title=title, card=cards.impact_card(change, owner_rows),
                        choices=choices, subject=subject, due_at=due)
            for oid, owner_rows in rows.items()
        ],
    )  # fmt: skip
    if notified:
        # The matrix as posted: a module's row once, however many owners it has.
        posted = {r.position: r for owner_rows in rows.values() for r in owner_rows}
        card = cards.notice_card(change, [posted[p] for p in sorted(posted)], len(owners))
        asks.open_asks(
            session, kind=notices.NOTICE_KIND, now=ctx.now, signer=ctx.signer,
            policy=notices.POLICY,
            asks=[asks.NewAsk(owner=person, title=title, card=card,
                              choices=notices.notice_choices(change), subject=subject, due_at=due)
                  for person in notified],
        )  # fmt: skip
    publish_summary(session, change, now=ctx.now, tz=ctx.tz, to=change.author)


# -- finding and closing ----------------------------------------------------------------------------


def find_by_reference(session: Session, reference: str) -> Change | None:
    """A change by our number (`12`, `#12`) or by PLM's external id (`ECO-2026-118`)."""
    ref = reference.strip().lstrip("#")
    if ref.isdigit():
        found = session.get(Change, int(ref))
        if found is not None:
            return found
    return session.scalars(
        select(Change).where(Change.external_id == ref).order_by(Change.id.desc()).limit(1)
    ).first()


def live_asks(session: Session, change: Change, *, lock: bool = False) -> list[Ask]:
    """Every ask of the change still waiting for an answer (locked in id order with `lock`)."""
    query = (
        select(Ask)
        .where(Ask.subject == change_subject(change.id), Ask.state.in_(LIVE))
        .order_by(Ask.id)
    )
    return list(session.scalars(query.with_for_update() if lock else query))


def close_change(
    session: Session,
    change: Change,
    *,
    outcome: str,
    now: datetime,
    tz: ZoneInfo,
    by: Employee | None = None,
    reason: str | None = None,
    keep: Ask | None = None,
) -> int:
    """Close the change: its waiting asks (but `keep`, the one being answered right now) show
    `outcome` and refuse late taps politely; the summary says closed. Returns how many asks
    were closed; a second close changes nothing."""
    # Lock order, as every answer takes them: the asks, then the change, then the summary
    # card. An answer holds its ask and waits for the change; taking the change first here
    # would deadlock with it on PostgreSQL.
    waiting = [a for a in live_asks(session, change, lock=True) if keep is None or a.id != keep.id]
    change = lock_change(session, change.id)
    if change.status == ChangeStatus.CLOSED:
        return 0
    change.status, change.closed_at = ChangeStatus.CLOSED, now
    change.closed_reason = (reason or outcome)[:200]
    for ask in waiting:
        asks.close_ask(session, ask, outcome=outcome, now=now)
    publish_summary(session, change, now=now, tz=tz)
    if by is not None and by.id != change.author_id:
        text = notices.TO_AUTHOR_CLOSED.format(version=change.version, title=change.title,
                                               name=by.name, reason=change.closed_reason)  # fmt: skip
        enqueue(session, Text(text), now=now, recipient=change.author)
    session.add(
        AuditLog(actor_id=by.id if by else None, action="change.close", object_type="change",
                 object_id=str(change.id), detail={"reason": change.closed_reason},
                 created_at=now)
    )  # fmt: skip
    return len(waiting)


def visible_to(change: Change, person: Employee) -> bool:
    """The author, HR and admins follow a change's progress."""
    return person.id == change.author_id or person.role in (Role.HR, Role.ADMIN)
