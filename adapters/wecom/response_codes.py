"""WeCom's card response codes: the newest unused one per card, kept in the shared kv cache.

A `response_code` updates a card once (platforms.md §3). A send answers with one and every
click brings a newer one; update_card spends the newest, so the click's code is kept here until
then. Lifetime: 72 h per the update doc, 24 h per older docs and an operator; we plan for 24 h.

Codes are kept per card and member: a card batch-sent to many members shares one task_id, and
a click's code is the clicking member's (update_template_card then names only them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.db import session_scope
from bot.services.kv import cache_add, cache_put, cache_take

RESPONSE_CODE_TTL = timedelta(hours=24)


def _key(task_id: str, user_id: str | None) -> str:
    return f"wecom:rc:{task_id}:{user_id or ''}"[:200]


def keep_click_code(
    session: Session, task_id: str, code: str, now: datetime, user_id: str | None = None
) -> None:
    """Keep a click's code as the newest for its card and member, replacing an older one."""
    cache_put(session, _key(task_id, user_id), code, now + RESPONSE_CODE_TTL)


def take_click_code(
    session_factory: sessionmaker[Session], task_id: str, now: datetime, user_id: str | None = None
) -> tuple[str, datetime] | None:
    """Take (and forget) the newest unused click code of a member's card with its expiry, if
    live; a code kept without a member (before codes were kept per member) still counts."""
    with session_scope(session_factory) as session:
        taken = cache_take(session, _key(task_id, user_id), now)
        if taken is None and user_id:
            taken = cache_take(session, f"wecom:rc:{task_id}"[:200], now)
        return taken


def give_back_click_code(
    session_factory: sessionmaker[Session],
    task_id: str,
    code: str,
    expires_at: datetime,
    user_id: str | None = None,
) -> None:
    """Keep an unspent code again, unless a newer click stored its own meanwhile (any row
    present now was written after this code was taken)."""
    with session_scope(session_factory) as session:
        cache_add(session, _key(task_id, user_id), code, expires_at)
