"""What every console view shares: who is signed in, the request's database session, flash
messages that survive the redirect after a form, CSRF tokens, and rendering with the nav."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app, g, render_template
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.models import Employee
from bot.services.kv import cache_get, cache_put, cache_take
from bot.timeutil import local_dt

if TYPE_CHECKING:
    from bot.state import BotState

FLASH_TTL = timedelta(minutes=5)
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in HR person or admin, and their session."""

    employee_id: int
    employee_no: str
    name: str
    role: str
    session_id: int
    token: str


def state() -> BotState:
    """The app's BotState."""
    return current_app.extensions["bot"]


def viewer() -> Viewer:
    """Who is signed in (the guard has checked before any view runs)."""
    return g.console_viewer


@contextmanager
def db() -> Iterator[Session]:
    """A session committed when the block ends without an error."""
    with session_scope(state().session_factory) as session:
        yield session


def me(session: Session) -> Employee:
    """The signed-in person as a row of `session`."""
    employee = session.get(Employee, viewer().employee_id)
    assert employee is not None
    return employee


def now() -> datetime:
    """The clock's reading."""
    return state().clock.now()


def csrf_token(seed: str) -> str:
    """The form token for a session (or a pre-sign-in nonce): an HMAC only the server makes."""
    key = state().config.secret_key.encode()
    return hmac.new(key, f"console-csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(seed: str, given: str | None) -> bool:
    """True when a posted token matches the expected one."""
    return bool(given) and hmac.compare_digest(csrf_token(seed), given or "")


def flash(session: Session, text: str, kind: str = "ok") -> None:
    """A message for the next page this viewer sees (kind: ok | error)."""
    key = f"console:flash:{viewer().session_id}"
    waiting = _peek(session, key)
    waiting.append({"kind": kind, "text": text[:2000]})
    cache_put(session, key, json.dumps(waiting, ensure_ascii=False), now() + FLASH_TTL)


def _peek(session: Session, key: str) -> list[dict[str, str]]:
    raw = cache_get(session, key, now())
    return json.loads(raw) if raw else []


def take_flashes(session: Session) -> list[dict[str, str]]:
    """The viewer's pending messages, removed as they are shown."""
    taken = cache_take(session, f"console:flash:{viewer().session_id}", now())
    return json.loads(taken[0]) if taken else []


def page(template: str, **context: Any) -> str:
    """Render a console page with the nav, the viewer, their flashes and the CSRF token."""
    with db() as session:
        flashes = take_flashes(session)
    return render_template(template, flashes=flashes, **context)


def local(when: datetime | None) -> str:
    """`11-26 10:42` in the factory's time zone, or a dash."""
    return local_dt(when, state().config.tz) if when else "-"


def age(since: datetime | None) -> str:
    """How long ago, as HR reads it: 35 分钟, 5 小时, 3 天."""
    if since is None:
        return "-"
    minutes = int((now() - since).total_seconds() // 60)
    if minutes < 1:
        return "刚刚"
    if minutes < 60:
        return f"{max(minutes, 0)} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时"
    return f"{minutes // (24 * 60)} 天"


def page_args(raw: str | None, total: int, size: int = PAGE_SIZE) -> tuple[int, int, int]:
    """(page number from 1, offset, number of pages) for a `?page=` value."""
    pages = max((total + size - 1) // size, 1)
    try:
        number = min(max(int(raw or 1), 1), pages)
    except ValueError:
        number = 1
    return number, (number - 1) * size, pages
