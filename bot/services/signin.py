"""Console sign-in (控制台登录): a 6-digit one-time code sent through the messenger, then a
session whose token only the browser's cookie holds (design §16).

A code lives 5 minutes and allows 5 tries; a new one replaces it and may be asked for once a
minute, at most 10 times an hour. Sessions end after 8 idle hours or 12 hours in all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.models import ConsoleSession, Employee, Role, SignInCode

CODE_TTL = timedelta(minutes=5)
MAX_TRIES = 5
RESEND_AFTER = timedelta(seconds=60)
CODES_PER_HOUR = 10
SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
CONSOLE_ROLES = (Role.HR, Role.ADMIN)


def may_use_console(employee: Employee | None) -> bool:
    """HR and admins who are active; workers and supervisors are refused (403)."""
    return employee is not None and employee.active and employee.role in CONSOLE_ROLES


def find_person(session: Session, employee_no: str) -> Employee | None:
    """The active employee with this number, or None."""
    employee = session.scalar(select(Employee).where(Employee.employee_no == employee_no.strip()))
    return employee if employee is not None and employee.active else None


class IssueRefusal(StrEnum):
    """Why no new code was sent."""

    TOO_SOON = "too_soon"
    TOO_MANY = "too_many"


@dataclass(frozen=True, slots=True)
class Issued:
    """A new code (to send), or why there is none and how long to wait."""

    code: str | None
    refusal: IssueRefusal | None = None
    wait_seconds: int = 0


def _hash(key: str, employee_id: int, code: str) -> str:
    return hmac.new(key.encode(), f"signin:{employee_id}:{code}".encode(), "sha256").hexdigest()


def issue_code(session: Session, employee: Employee, *, now: datetime, key: str) -> Issued:
    """A fresh code for `employee`, replacing any unused one; refused when asked too often."""
    latest = session.scalar(
        select(func.max(SignInCode.created_at)).where(SignInCode.employee_id == employee.id)
    )
    if latest is not None and now - latest < RESEND_AFTER:
        wait = int((RESEND_AFTER - (now - latest)).total_seconds()) + 1
        return Issued(None, IssueRefusal.TOO_SOON, wait)
    recent = session.scalar(
        select(func.count(SignInCode.id)).where(
            SignInCode.employee_id == employee.id, SignInCode.created_at > now - timedelta(hours=1)
        )
    )
    if (recent or 0) >= CODES_PER_HOUR:
        return Issued(None, IssueRefusal.TOO_MANY)
    session.execute(
        update(SignInCode)
        .where(SignInCode.employee_id == employee.id, SignInCode.used_at.is_(None))
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        SignInCode(
            employee_id=employee.id,
            code_hash=_hash(key, employee.id, code),
            attempts=0,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    )
    session.flush()
    return Issued(code)


class CodeCheck(StrEnum):
    """The outcome of one try."""

    OK = "ok"
    WRONG = "wrong"  # tries are left
    USED_UP = "used_up"  # that was the fifth wrong try, or none were left
    NONE = "none"  # no live code: expired, replaced or never asked for


@dataclass(frozen=True, slots=True)
class Checked:
    """A try's outcome and how many tries the code has left."""

    outcome: CodeCheck
    left: int = 0


def check_code(
    session: Session, employee: Employee, code: str, *, now: datetime, key: str
) -> Checked:
    """Try `code` against the person's live code. Every try is counted, even a right one, by a
    conditional UPDATE, so two concurrent guesses cannot both be the fifth. The caller commits
    whatever the outcome (a wrong try must stay counted)."""
    row = session.scalar(
        select(SignInCode)
        .where(
            SignInCode.employee_id == employee.id,
            SignInCode.used_at.is_(None),
            SignInCode.expires_at > now,
        )
        .order_by(SignInCode.id.desc())
        .limit(1)
    )
    if row is None:
        return Checked(CodeCheck.NONE)
    counted = session.execute(
        update(SignInCode)
        .where(
            SignInCode.id == row.id, SignInCode.attempts < MAX_TRIES, SignInCode.used_at.is_(None)
        )
        .values(attempts=SignInCode.attempts + 1)
        .returning(SignInCode.attempts)
    ).first()
    if counted is None:
        return Checked(CodeCheck.USED_UP)
    left = MAX_TRIES - counted.attempts
    if hmac.compare_digest(row.code_hash, _hash(key, employee.id, code)):
        session.execute(update(SignInCode).where(SignInCode.id == row.id).values(used_at=now))
        return Checked(CodeCheck.OK, left)
    if left <= 0:
        return Checked(CodeCheck.USED_UP)
    return Checked(CodeCheck.WRONG, left)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session, employee: Employee, *, now: datetime, user_agent: str | None = None
) -> str:
    """Start a console session; returns the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_token_hash(token),
            employee_id=employee.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_MAX,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    session.flush()
    return token


def find_session(session: Session, token: str, *, now: datetime) -> ConsoleSession | None:
    """The live session behind a cookie token (not ended, not expired, not idle too long)."""
    if not token:
        return None
    row = session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token))
    )
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > SESSION_IDLE:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end_session(session: Session, token: str, *, now: datetime) -> ConsoleSession | None:
    """Sign out: the token stops working at once. Returns the session that ended, if any."""
    row = session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token))
    )
    if row is not None and row.ended_at is None:
        row.ended_at = now
        return row
    return None
