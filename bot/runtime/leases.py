"""Leases a worker renews by heartbeat on the inbound events and outbox rows it works on.

A worker takes a row for LEASE (20 s) and, while it lives, renews every row it still holds each
HEARTBEAT (5 s), however long its work takes (a send that waits a minute on a slow platform). A
worker that dies (SIGKILL, the OOM killer, a lost host) stops renewing, and another worker takes
its rows over once LEASE has passed since its last beat: within LEASE and one poll of the loop.

Taking a row counts an attempt, so a row's `attempts` names the lease it is under: a renewal that
finds another number (or the row no longer taken) has lost the row and forgets it. Nothing with
an outside effect (a send) starts on a row whose lease was last renewed more than LEASE - MARGIN
ago, so a worker whose beats stopped reaching the database stops sending before its rows can be
taken over.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import session_scope
from bot.models import InboundEvent, Outbox

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=20)
HEARTBEAT = timedelta(seconds=5)
MARGIN = timedelta(seconds=10)
# A row held longer than this is no longer renewed: a worker alive but stuck (a platform that
# trickles its answer byte by byte) lets it lapse, and another worker takes it over.
MAX_HOLD = timedelta(minutes=10)

Model = type[InboundEvent] | type[Outbox]
# The state a row is in while a worker holds it.
HOLDING: dict[Model, str] = {InboundEvent: "processing", Outbox: "sending"}


@dataclass(frozen=True, slots=True)
class _Held:
    attempt: int
    until: datetime
    since: datetime


class Leases:
    """The rows one worker holds: taken with `hold`, given up with `drop`, renewed by `renew`
    (the heartbeat). Safe to use from the worker's threads at once."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock):
        self.session_factory, self.clock = session_factory, clock
        self._lock = threading.Lock()
        self._held: dict[tuple[Model, int], _Held] = {}

    def hold(self, model: Model, rows: Iterable[tuple[int, int]], until: datetime) -> None:
        """Remember rows just taken until `until`, as (id, attempts after the take) pairs."""
        with self._lock:
            for row_id, attempt in rows:
                self._held[(model, row_id)] = _Held(attempt, until, until - LEASE)

    def drop(self, model: Model, ids: Iterable[int]) -> None:
        """Forget rows finished, handed back or failed."""
        with self._lock:
            for row_id in ids:
                self._held.pop((model, row_id), None)

    def is_fresh(self, model: Model, row_id: int) -> bool:
        """Still held, with enough of the lease left to start something with an outside effect."""
        with self._lock:
            held = self._held.get((model, row_id))
        return held is not None and self.clock.now() < held.until - MARGIN

    def renew(self) -> int:
        """One heartbeat: extend every held row's lease to now + LEASE; rows another worker took
        over are forgotten. Returns how many rows were renewed."""
        with self._lock:
            snapshot = dict(self._held)
        if not snapshot:
            return 0
        now = self.clock.now()
        stuck = {key for key, held in snapshot.items() if now - held.since > MAX_HOLD}
        if stuck:
            log.warning("%s rows held over %s: left to lapse for another worker", len(stuck),
                        MAX_HOLD)  # fmt: skip
            with self._lock:
                for key in stuck:
                    if self._held.get(key) is snapshot[key]:
                        del self._held[key]
            snapshot = {k: v for k, v in snapshot.items() if k not in stuck}
        groups: dict[tuple[Model, int], list[int]] = defaultdict(list)
        for (model, row_id), held in snapshot.items():
            groups[(model, held.attempt)].append(row_id)
        until = now + LEASE
        renewed: set[tuple[Model, int]] = set()
        busy: set[tuple[Model, int]] = set()
        with session_scope(self.session_factory) as session:
            for (model, attempt), ids in groups.items():
                got, locked = _renew(session, model, attempt, ids, until)
                renewed.update((model, i) for i in got)
                busy.update((model, i) for i in locked)
        lost = 0
        with self._lock:
            for key, held in snapshot.items():
                if self._held.get(key) is not held:
                    continue  # finished or taken again meanwhile
                if key in renewed:
                    self._held[key] = _Held(held.attempt, until, held.since)
                elif key not in busy:
                    del self._held[key]
                    lost += 1
        if lost:
            log.warning("lease lost on %s rows: another worker took them over", lost)
        return len(renewed)


def _renew(
    session: Session, model: Model, attempt: int, ids: list[int], until: datetime
) -> tuple[list[int], list[int]]:
    """Renew the rows still held under `attempt`: (renewed ids, ids still held but locked by a
    transaction of this worker's own, left for the next beat)."""
    mine = and_(model.id.in_(ids), model.state == HOLDING[model], model.attempts == attempt)
    ours = list(session.scalars(select(model.id).where(mine)))
    if not ours:
        return [], []
    free = ours
    if session.get_bind().dialect.name == "postgresql":
        # Skip rows a recording transaction has locked: waiting on it while it waits on a row
        # this statement locked would deadlock.
        query = select(model.id).where(mine).order_by(model.id)
        free = list(session.scalars(query.with_for_update(skip_locked=True)))
    if free:
        session.execute(update(model).where(model.id.in_(free)).values(next_attempt_at=until))
    return free, sorted(set(ours) - set(free))
