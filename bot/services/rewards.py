"""Rewards and redemption (兑换): holds, HR's decision, the ledger debit and the stock.

A request holds its cost: available = balance − the costs of the person's pending requests,
and a request is refused when it would take that below zero. A reward's stock counts the
requests awaiting approval as taken, and approval takes one from `stock` for good, never
below zero. Both hold however many taps arrive at once, from however many processes: the
request locks the person's employee row and then the reward row (PostgreSQL; SQLite
serializes every writer at BEGIN), and approval takes the same locks in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import BotError, InvalidInput, LimitReached, NotAllowed, NotFound
from bot.models import AuditLog, Employee, Redemption, RedemptionState, Reward, Role
from bot.notices import rewards as texts
from bot.services.ledger import append_entry, balance
from bot.services.workcal import get_setting
from bot.signing import Signer

REMINDER_DEFAULT = {"after_hours": 4}


@dataclass(frozen=True, slots=True)
class Wallet:
    """A person's points: the ledger balance, what pending requests hold, what is left."""

    balance: int
    held: int

    @property
    def available(self) -> int:
        """Balance less holds (what a new request may spend)."""
        return self.balance - self.held


def held(session: Session, employee_id: int) -> int:
    """The cost of the person's pending redemptions."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Redemption.cost), 0)).where(
                Redemption.employee_id == employee_id,
                Redemption.state == RedemptionState.PENDING,
            )
        )
        or 0
    )


def wallet(session: Session, employee_id: int) -> Wallet:
    """Balance and holds of one person."""
    return Wallet(balance(session, employee_id), held(session, employee_id))


def pending_count(session: Session, reward_id: int) -> int:
    """Requests for a reward that wait for HR (they hold stock)."""
    return int(
        session.scalar(
            select(func.count(Redemption.id)).where(
                Redemption.reward_id == reward_id, Redemption.state == RedemptionState.PENDING
            )
        )
        or 0
    )


def pending_counts(session: Session) -> dict[int, int]:
    """reward id → requests waiting for HR."""
    rows = session.execute(
        select(Redemption.reward_id, func.count(Redemption.id))
        .where(Redemption.state == RedemptionState.PENDING)
        .group_by(Redemption.reward_id)
    )
    return {reward_id: int(n) for reward_id, n in rows}


def active_rewards(session: Session) -> list[Reward]:
    """Rewards on offer, cheapest first."""
    return list(
        session.scalars(
            select(Reward).where(Reward.active.is_(True)).order_by(Reward.cost, Reward.code)
        )
    )


def pending_of(session: Session, employee_id: int) -> list[Redemption]:
    """The person's requests waiting for HR, oldest first."""
    return list(
        session.scalars(
            select(Redemption)
            .where(
                Redemption.employee_id == employee_id, Redemption.state == RedemptionState.PENDING
            )
            .order_by(Redemption.id)
        )
    )


def find_reward(session: Session, code: str) -> Reward:
    """A reward by code (case-insensitive). Raises NotFound."""
    reward = session.scalar(select(Reward).where(func.upper(Reward.code) == code.strip().upper()))
    if reward is None:
        raise NotFound(texts.UNKNOWN_REWARD.format(code=code.strip()[:20]))
    return reward


def approvers_for(session: Session, employee: Employee) -> list[Employee]:
    """Who decides a redemption: active HR, else admins; never the requester."""
    for role in (Role.HR, Role.ADMIN):
        people = session.scalars(
            select(Employee)
            .where(Employee.role == role, Employee.active.is_(True), Employee.id != employee.id)
            .order_by(Employee.id)
        ).all()
        if people:
            return list(people)
    return []


def _lock_employee(session: Session, employee_id: int) -> Employee:
    session.flush()  # populate_existing must not drop a change made earlier in the turn
    employee = session.get(Employee, employee_id, with_for_update=True, populate_existing=True)
    assert employee is not None
    return employee


def _lock_reward(session: Session, reward_id: int) -> Reward:
    reward = session.get(Reward, reward_id, with_for_update=True, populate_existing=True)
    if reward is None:
        raise NotFound(texts.UNKNOWN_REWARD.format(code=reward_id))
    return reward


def request_redemption(
    session: Session,
    employee: Employee,
    reward_id: int,
    *,
    now: datetime,
    tz: ZoneInfo,
    signer: Signer,
    expected_cost: int | None = None,
) -> Redemption:
    """Hold the reward's cost and ask HR to decide (批准 / 拒绝).

    Raises:
        BotError subclasses, before anything changes: unknown or inactive reward, a changed
        price, a request for it already pending, out of stock, not enough available points,
        nobody to decide.
    """
    _lock_employee(session, employee.id)
    reward = _lock_reward(session, reward_id)
    if not reward.active:
        raise InvalidInput(texts.INACTIVE.format(name=reward.title))
    if expected_cost is not None and expected_cost != reward.cost:
        raise InvalidInput(texts.PRICE_CHANGED.format(name=reward.title, cost=reward.cost))
    mine = pending_of(session, employee.id)
    if any(r.reward_id == reward.id for r in mine):
        raise LimitReached(texts.ALREADY_PENDING.format(name=reward.title))
    pending = pending_count(session, reward.id)
    if reward.stock is not None and reward.stock - pending <= 0:
        raise LimitReached(texts.OUT_OF_STOCK.format(name=reward.title))
    money = wallet(session, employee.id)
    if reward.cost > money.available:
        raise LimitReached(
            texts.NOT_ENOUGH.format(
                name=reward.title, cost=reward.cost, available=max(money.available, 0),
                balance=money.balance, held=money.held,
            )
        )  # fmt: skip
    approvers = approvers_for(session, employee)
    if not approvers:
        raise NotAllowed(texts.NO_APPROVER)
    redemption = Redemption(
        employee_id=employee.id, reward_id=reward.id, cost=reward.cost,
        state=RedemptionState.PENDING, source="redeem", created_at=now,
    )  # fmt: skip
    redemption.employee, redemption.reward = employee, reward
    session.add(redemption)
    session.flush()
    hours = float(get_setting(session, "approval_reminder", REMINDER_DEFAULT)["after_hours"])
    card = texts.approval_card(
        redemption, reward, employee, balance=money.balance, held=money.held + reward.cost,
        pending=pending + 1, tz=tz,
    )  # fmt: skip
    asks.open_ask(
        session, kind=texts.APPROVAL_KIND, subject=redemption_subject(redemption.id),
        owner=approvers[0], delegates=approvers[1:], title=texts.title(redemption, reward, employee),
        card=card, choices=texts.approval_choices(redemption.id), now=now, signer=signer,
        policy="approval", anchor_at=now + timedelta(hours=hours),
    )  # fmt: skip
    _audit(session, employee, "redemption.request", redemption, {"reward": reward.code}, now)
    return redemption


def redemption_subject(redemption_id: int) -> str:
    """The subject of a redemption's approval ask."""
    return f"redemption:{redemption_id}"


def _pending_for_update(session: Session, redemption_id: int) -> Redemption:
    redemption = session.get(
        Redemption, redemption_id, with_for_update=True, populate_existing=True
    )
    if redemption is None:
        raise NotFound(texts.NOT_PENDING)
    if redemption.state != RedemptionState.PENDING:
        raise BotError(texts.NOT_PENDING)
    return redemption


def approve_redemption(
    session: Session, redemption_id: int, actor: Employee, *, now: datetime
) -> Redemption:
    """批准: debit the ledger and take one from stock; tell the person.

    Raises:
        BotError: decided already, the actor's own request, the balance no longer covers it
        (a correction since), or no stock left.
    """
    redemption = _pending_for_update(session, redemption_id)
    if redemption.employee_id == actor.id:
        raise NotAllowed(texts.NOT_HR)
    employee = _lock_employee(session, redemption.employee_id)
    reward = _lock_reward(session, redemption.reward_id)
    money = wallet(session, employee.id)
    # The hold is this request's own; the others' holds still stand.
    if money.balance - (money.held - redemption.cost) < redemption.cost:
        raise LimitReached(
            texts.APPROVE_SHORT.format(
                name=employee.name, item=reward.title, cost=redemption.cost,
                available=money.balance - (money.held - redemption.cost),
            )
        )  # fmt: skip
    if reward.stock is not None:
        if reward.stock <= 0:
            raise LimitReached(texts.STOCK_GONE.format(item=reward.title))
        reward.stock -= 1
    entry = append_entry(
        session, employee, -redemption.cost, kind="redemption",
        memo=texts.LEDGER_MEMO.format(code=reward.code, name=reward.title), now=now,
        created_by_id=actor.id,
    )  # fmt: skip
    redemption.state, redemption.ledger_entry_id = RedemptionState.APPROVED, entry.id
    redemption.decided_by_id, redemption.decided_at = actor.id, now
    session.flush()
    texts.tell_approved(session, redemption, balance=balance(session, employee.id), now=now)
    _audit(session, actor, "redemption.approve", redemption, {"points": -redemption.cost}, now)
    return redemption


def reject_redemption(
    session: Session, redemption_id: int, actor: Employee, reason: str, *, now: datetime
) -> Redemption:
    """拒绝 with a reason: the hold is released; tell the person.

    Raises:
        BotError: decided already, an empty reason.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(texts.REJECT_PROMPT.format(id=redemption_id))
    redemption = _pending_for_update(session, redemption_id)
    redemption.state, redemption.reason = RedemptionState.REJECTED, reason[:500]
    redemption.decided_by_id, redemption.decided_at = actor.id, now
    session.flush()
    texts.tell_rejected(session, redemption, now=now)
    _audit(session, actor, "redemption.reject", redemption, {"reason": redemption.reason}, now)
    return redemption


def _audit(
    session: Session, actor: Employee, action: str, redemption: Redemption, detail: dict,
    now: datetime,
) -> None:  # fmt: skip
    session.add(
        AuditLog(actor_id=actor.id, action=action, object_type="redemption",
                 object_id=str(redemption.id), detail=detail, created_at=now)
    )  # fmt: skip
