"""The one active scheduler: APScheduler 3 in the background, guarded by a DB lease.

Every scheduler process renews the single `scheduler_lease` row every RENEW seconds; only the
holder runs jobs. If the holder dies, its lease expires after TTL and the next renewal of a
waiting scheduler takes over (within TTL + RENEW = 60 s). The lease row is read with
SELECT … FOR UPDATE, so on PostgreSQL two schedulers serialize on it; SQLite serializes every
write transaction anyway (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.jobs import JOBS, JobOutcome, run_job
from bot.jobs.base import minute_period
from bot.models import SchedulerLease

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

TTL = timedelta(seconds=40)
RENEW_SECONDS = 20
JITTER_SECONDS = 90


def acquire_lease(session: Session, holder: str, now: datetime, ttl: timedelta = TTL) -> bool:
    """Take or renew the lease for `holder`; False while someone else holds an unexpired one."""
    row = session.get(SchedulerLease, 1, with_for_update=True)
    if row is None:
        session.add(SchedulerLease(id=1, holder=holder, expires_at=now + ttl))
        session.flush()
        return True
    if row.holder not in (holder, "") and row.expires_at > now:
        return False
    row.holder, row.expires_at = holder, now + ttl
    session.flush()
    return True


def release_lease(session: Session, holder: str) -> None:
    """Give the lease up (clean shutdown) so a waiting scheduler takes over at once."""
    row = session.get(SchedulerLease, 1, with_for_update=True)
    if row is not None and row.holder == holder:
        row.holder = ""
        session.flush()


def default_holder() -> str:
    """`host:pid:random`, unique per scheduler process."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:100]


class SchedulerService:
    """Owns a BackgroundScheduler whose jobs run only while this process holds the lease."""

    def __init__(self, state: BotState, holder: str | None = None):
        self.state = state
        self.holder = holder or default_holder()
        self.is_leader = False
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None

    def renew(self) -> bool:
        """Take or keep the lease; returns whether this process is now the active scheduler."""
        now = self.state.clock.now()
        try:
            with session_scope(self.state.session_factory) as session:
                leader = acquire_lease(session, self.holder, now)
        except Exception:
            log.exception("scheduler lease renewal failed; standing by")
            leader = False
        if leader != self.is_leader:
            log.info("scheduler %s: %s", self.holder, "active" if leader else "standing by")
        self.is_leader = leader
        return leader

    def fire(self, name: str) -> JobOutcome | None:
        """Run one scheduled job if this process is the active scheduler."""
        if not self.is_leader:
            return None
        with self._lock:
            state = self.state
            outcome = run_job(
                state.session_factory,
                name,
                state.clock.now(),
                tz=state.config.tz,
                signer=state.signer,
                media_dir=state.config.media_dir,
                platforms=frozenset(state.adapters),
                scheduled=True,
                checkpoint_dir=state.config.ledger_checkpoint_dir,
            )
        if outcome.ran:
            # The minutely tick with nothing to do would be a line a minute: kept to DEBUG.
            minutely = JOBS[name].period is minute_period
            idle = minutely and not re.search(r"=[1-9]", outcome.result)
            log.log(logging.DEBUG if idle else logging.INFO, "job %s %s: %s",
                    name, outcome.period, outcome.result)  # fmt: skip
            state.notify_worker()
        return outcome

    def _safe_fire(self, name: str) -> None:
        try:
            self.fire(name)
        except Exception:
            log.exception("job %s failed", name)

    def start(self) -> None:
        """Start the background scheduler (lease renewal now, then every RENEW_SECONDS)."""
        tz = self.state.config.tz
        scheduler = BackgroundScheduler(timezone=tz)
        scheduler.add_job(
            self.renew,
            IntervalTrigger(seconds=RENEW_SECONDS, timezone=tz),
            id="lease",
            next_run_time=datetime.now(tz),
            max_instances=1,
            coalesce=True,
        )
        for name, spec in JOBS.items():
            scheduler.add_job(
                self._safe_fire,
                spec.trigger(tz, JITTER_SECONDS),
                args=[name],
                id=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=300,
            )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        """Stop the scheduler and release the lease."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        try:
            with session_scope(self.state.session_factory) as session:
                release_lease(session, self.holder)
        except Exception:
            log.exception("could not release the scheduler lease")
        self.is_leader = False
