"""Notices from HR to many people (通知): who gets them, read confirmations, read status.

An important notice is one shared card with 已读 (bot/asks/shared.py): each person has their
own ask, answered once; the `read_confirm` policy reminds whoever has not read it once, two
working hours after it went out. A plain notice is one text to everyone. Both are written as
one batch, so delivery sends them with each platform's batch send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import InvalidInput
from bot.models import Ask, AskState, Broadcast, Department, Employee
from bot.notices import broadcasts as notices
from bot.outbox import enqueue_broadcast
from bot.services.workcal import WorkCalendar
from bot.signing import Signer


class UnknownRecipients(InvalidInput):
    """An audience naming departments or employees that do not exist."""

    def __init__(self, field: str, values: list[str]):
        super().__init__(", ".join(values))
        self.field, self.values = field, values


def audience_ids(session: Session, to: str | dict[str, list[str]]) -> list[int]:
    """Active employees a notice goes to: "all", {"departments": [name or path]} (with their
    sub-departments) or {"employees": [employee_no]}.

    Raises:
        UnknownRecipients: a department or employee number that does not exist.
    """
    active = select(Employee.id).where(Employee.active.is_(True)).order_by(Employee.id)
    if to == "all":
        return list(session.scalars(active))
    assert isinstance(to, dict)
    if "employees" in to:
        wanted = list(dict.fromkeys(to["employees"]))
        rows = dict(
            session.execute(
                select(Employee.employee_no, Employee.id).where(
                    Employee.employee_no.in_(wanted), Employee.active.is_(True)
                )
            ).all()
        )
        missing = [no for no in wanted if no not in rows]
        if missing:
            raise UnknownRecipients("to.employees", missing)
        return [rows[no] for no in wanted]
    names = list(dict.fromkeys(to.get("departments") or []))
    departments = list(session.scalars(select(Department)))
    chosen: set[int] = set()
    missing = []
    for name in names:
        hits = [d for d in departments if name in (d.name, d.path)]
        if not hits:
            missing.append(name)
        for hit in hits:
            chosen.update(
                d.id for d in departments if d.path == hit.path or d.path.startswith(hit.path + "/")
            )
    if missing:
        raise UnknownRecipients("to.departments", missing)
    return list(session.scalars(active.where(Employee.department_id.in_(chosen))))


def send_broadcast(
    session: Session,
    *,
    title: str,
    text: str,
    important: bool,
    to: str | dict[str, list[str]],
    now: datetime,
    signer: Signer,
    calendar: WorkCalendar,
    sender: Employee | None = None,
    source: str = "api",
) -> Broadcast:
    """Record a notice and queue it to its audience (the sender excluded).

    Raises:
        UnknownRecipients: see audience_ids.
    """
    people = [i for i in audience_ids(session, to) if sender is None or i != sender.id]
    broadcast = Broadcast(
        title=title[:200], text=text[:2000], important=important,
        audience={"to": to}, sender_id=sender.id if sender else None, source=source,
        total=len(people), created_at=now,
    )  # fmt: skip
    session.add(broadcast)
    session.flush()
    if not important:
        enqueue_broadcast(session, notices.plain_notice(title, text), people, now)
        return broadcast
    # The policy's one step is wall-clock from the anchor: anchor it so that the step lands
    # two *working* hours after sending (a notice at 17:30 on Friday reminds on Monday).
    remind_at = calendar.add_working_minutes(now, notices.READ_WORKING_MINUTES)
    asks.open_shared(
        session,
        kind=notices.READ_KIND,
        owner_ids=people,
        title=title,
        card=notices.read_card(title, text),
        choices=notices.read_choices(),
        now=now,
        signer=signer,
        subject=subject_of(broadcast.id),
        policy=notices.READ_POLICY,
        anchor_at=remind_at - timedelta(minutes=notices.READ_WORKING_MINUTES),
    )
    return broadcast


def subject_of(broadcast_id: int) -> str:
    """The asks' subject of a notice's read confirmations."""
    return f"broadcast:{broadcast_id}"


@dataclass(frozen=True, slots=True)
class ReadStatus:
    """Who has confirmed an important notice."""

    total: int
    read: int
    unread: list[tuple[str, str]]  # (employee_no, name), oldest employee first


def read_status(session: Session, broadcast: Broadcast) -> ReadStatus:
    """Counts from the notice's asks: answered ones are read, live ones unread."""
    subject = subject_of(broadcast.id)
    read = session.scalar(
        select(func.count(Ask.id)).where(
            Ask.subject == subject, Ask.kind == notices.READ_KIND, Ask.state == AskState.ANSWERED
        )
    )
    unread = session.execute(
        select(Employee.employee_no, Employee.name)
        .join(Ask, Ask.owner_id == Employee.id)
        .where(
            Ask.subject == subject,
            Ask.kind == notices.READ_KIND,
            Ask.state.in_((AskState.OPEN, AskState.ACKNOWLEDGED)),
        )
        .order_by(Employee.id)
    ).all()
    return ReadStatus(broadcast.total, int(read or 0), [(no, name) for no, name in unread])


def latest_important(session: Session, sender: Employee | None = None) -> Broadcast | None:
    """The newest important notice (by `sender`, when given)."""
    query = select(Broadcast).where(Broadcast.important.is_(True))
    if sender is not None:
        query = query.where(Broadcast.sender_id == sender.id)
    return session.scalars(query.order_by(Broadcast.id.desc()).limit(1)).first()


def status_json(session: Session, broadcast: Broadcast) -> dict[str, Any]:
    """GET /api/v1/broadcasts/{id}: totals and the employee numbers still unread."""
    status = read_status(session, broadcast)
    return {
        "id": broadcast.id,
        "title": broadcast.title,
        "important": broadcast.important,
        "total": status.total,
        "read": status.read,
        "unread": [no for no, _name in status.unread],
    }
