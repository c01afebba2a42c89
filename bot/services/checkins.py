"""Weekly check-ins (周五签到): the week's done items, streaks, and the 半天调休 voucher.

Done items are the week's approved claims, reported retests and closed tasks. Retests are asks
of kind `change_retest` answered by their owner (the engineering-change feature's); tasks are
task alerts closed as done. Four checked-in weeks in a row grant a voucher: a zero-cost,
approved redemption of the active 调休 (leave) reward, made here with `source="checkin_streak"`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import asks
from bot.models import (
    Ask,
    AskState,
    Checkin,
    Claim,
    ClaimState,
    Employee,
    Redemption,
    RedemptionState,
    Reward,
    RewardKind,
    Task,
    TaskState,
)
from bot.notices import reviews as notices
from bot.services.likes import iso_week
from bot.signing import Signer

STREAK_WEEKS = 4
RETEST_KIND = "change_retest"
VOUCHER_SOURCE = "checkin_streak"


@dataclass(frozen=True, slots=True)
class DoneItem:
    """One thing done this week: kind (claim, retest, task), title, and a claim's code/points."""

    kind: str
    title: str
    code: str = ""
    points: int = 0


def week_bounds(when: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 and the next Monday 00:00 (local) around `when`."""
    local = when.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    start = datetime.combine(monday, time(0, 0), tz)
    return start, start + timedelta(days=7)


def done_items(
    session: Session, person: Employee, start: datetime, end: datetime
) -> list[DoneItem]:
    """Approved claims, reported retests and closed tasks of `person` in [start, end)."""
    items = [
        DoneItem("claim", c.rule.title, c.rule.code, c.points_credited or c.rule.points)
        for c in session.scalars(
            select(Claim)
            .where(
                Claim.employee_id == person.id,
                Claim.state == ClaimState.APPROVED,
                Claim.decided_at >= start,
                Claim.decided_at < end,
            )
            .order_by(Claim.decided_at)
        )
    ]
    items += [
        DoneItem("retest", a.title)
        for a in session.scalars(
            select(Ask)
            .where(
                Ask.kind == RETEST_KIND,
                Ask.owner_id == person.id,
                Ask.answered_by_id == person.id,
                Ask.state == AskState.ANSWERED,
                Ask.answered_at >= start,
                Ask.answered_at < end,
            )
            .order_by(Ask.answered_at)
        )
    ]
    items += [
        DoneItem("task", t.title)
        for t in session.scalars(
            select(Task)
            .where(
                Task.owner_id == person.id,
                Task.state == TaskState.DONE,
                Task.closed_at >= start,
                Task.closed_at < end,
            )
            .order_by(Task.closed_at)
        )
    ]
    return items


def checkin_of(session: Session, person: Employee, week: str) -> Checkin | None:
    """`person`'s check-in row for `week`, if one was opened."""
    return session.scalar(
        select(Checkin).where(Checkin.employee_id == person.id, Checkin.week == week)
    )


def checkin_subject(person_id: int, week: str) -> str:
    """The check-in ask's subject."""
    return f"checkin:{person_id}:{week}"


def streak_after(session: Session, person: Employee, now: datetime, tz: ZoneInfo) -> int:
    """The streak a check-in this week makes: last week's plus one, or one."""
    last = checkin_of(session, person, iso_week(now - timedelta(days=7), tz))
    return last.streak + 1 if last is not None and last.checked_in_at is not None else 1


def leave_reward(session: Session) -> Reward | None:
    """The active 调休 reward a voucher is a redemption of (the first, if several)."""
    return session.scalars(
        select(Reward)
        .where(Reward.kind == RewardKind.LEAVE, Reward.active.is_(True))
        .order_by(Reward.id)
        .limit(1)
    ).first()


def grant_leave_voucher(
    session: Session, person: Employee, *, now: datetime, note: str
) -> Redemption | None:
    """A zero-cost approved redemption of the leave reward; None when no such reward is set up."""
    reward = leave_reward(session)
    if reward is None:
        return None
    voucher = Redemption(
        employee_id=person.id, reward_id=reward.id, cost=0, state=RedemptionState.APPROVED,
        source=VOUCHER_SOURCE, note=note[:200], created_at=now, decided_at=now,
    )  # fmt: skip
    voucher.reward = reward
    session.add(voucher)
    session.flush()
    return voucher


def confirm_checkin(
    session: Session, checkin: Checkin, person: Employee, *, now: datetime, tz: ZoneInfo,
    voucher_note: str,
) -> Redemption | None:  # fmt: skip
    """Check in: set the streak; every STREAK_WEEKS-th week in a row grants a voucher
    (returned; None otherwise or when no leave reward exists)."""
    checkin.checked_in_at = now
    checkin.streak = streak_after(session, person, now, tz)
    if checkin.streak % STREAK_WEEKS:
        return None
    voucher = grant_leave_voucher(session, person, now=now, note=voucher_note)
    checkin.redemption_id = voucher.id if voucher is not None else None
    return voucher


def vouchers_of(session: Session, person: Employee) -> list[Redemption]:
    """`person`'s check-in vouchers (zero-cost approved redemptions), newest first."""
    return list(
        session.scalars(
            select(Redemption)
            .where(
                Redemption.employee_id == person.id,
                Redemption.source == VOUCHER_SOURCE,
                Redemption.cost == 0,
                Redemption.state == RedemptionState.APPROVED,
            )
            .order_by(Redemption.id.desc())
        )
    )


def open_asks_of_kind(session: Session, person: Employee, kind: str) -> list[Ask]:
    """`person`'s live asks of one kind (an older week's check-in still open)."""
    return list(
        session.scalars(
            select(Ask).where(
                Ask.owner_id == person.id,
                Ask.kind == kind,
                Ask.state.in_((AskState.OPEN, AskState.ACKNOWLEDGED)),
            )
        )
    )


def open_checkin(
    session: Session,
    person: Employee,
    *,
    now: datetime,
    tz: ZoneInfo,
    signer: Signer,
    announce: bool = True,
) -> tuple[Checkin, bool]:
    """This week's check-in of `person`, opening it (and its ask) if needed; an older week's
    check-in still open is closed as expired. Returns (check-in, opened now)."""
    week = iso_week(now, tz)
    found = checkin_of(session, person, week)
    if found is not None:
        return found, False
    for stale in open_asks_of_kind(session, person, notices.CHECKIN_KIND):
        asks.close_ask(session, stale, outcome=notices.CHECKIN_EXPIRED, now=now)
    start, end = week_bounds(now, tz)
    items = [
        notices.item_line(i.kind, i.title, i.code, i.points)
        for i in done_items(session, person, start, end)
    ]
    ask = asks.open_ask(
        session, kind=notices.CHECKIN_KIND, owner=person,
        title=notices.CHECKIN_TITLE.format(week=week), card=notices.checkin_card(week, items),
        choices=notices.checkin_choices(), now=now, signer=signer,
        subject=checkin_subject(person.id, week), due_at=end, announce=announce,
    )  # fmt: skip
    checkin = Checkin(
        employee_id=person.id, week=week, ask_id=ask.id, items=items, streak=0, created_at=now
    )
    session.add(checkin)
    session.flush()
    return checkin, True
