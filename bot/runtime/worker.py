"""The job worker: turns recorded inbound events into replies and delivers the outbox."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from bot.context import HandlerContext
from bot.db import session_scope
from bot.logs import event_context
from bot.models import InboundEvent
from bot.notices.system import (
    DOWNLOAD_FAILED,
    HANDLING_FAILED,
    RETRYING,
    UNKNOWN_SENDER,
    UNKNOWN_SENDER_TTL,
)
from bot.outbox import enqueue
from bot.ports import DeliveryError, Event, EventKind
from bot.runtime.delivery import BATCH, Delivery
from bot.runtime.leases import HEARTBEAT, LEASE, Leases
from bot.services.inbound import redacted, take_redact
from bot.services.kv import cache_get, cache_put
from bot.services.people import find_sender
from bot.storable import is_storable, storable
from cards import Text

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

INBOUND_MAX_ATTEMPTS = 5
# A worker that dies mid-event (a deploy, the OOM killer) leaves it "processing"; another worker
# takes it up once this lease has run out (a live worker renews it by heartbeat, leases.py).
INBOUND_LEASE = LEASE


class _LeaseLost(Exception):
    """The event was taken over by another worker while this one handled it."""


class _Unhandleable(Exception):
    """No retry can handle the event (its sender id cannot even be looked up): dead at once."""


def inbound_backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, 80 s: a platform hiccup is waited out, a worker's photo not forgotten."""
    return timedelta(seconds=10 * 2 ** max(attempts - 1, 0))


@dataclass
class Worker:
    """Processes inbound events and delivers outbox rows; one instance per process."""

    state: BotState

    def __post_init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leases = Leases(self.state.session_factory, self.state.clock)
        self.delivery = Delivery(self.state, self.leases)

    # -- inbound -------------------------------------------------------------------------------

    def _due(self, now: datetime) -> ColumnElement[bool]:
        pending = and_(
            InboundEvent.state == "pending",
            or_(InboundEvent.next_attempt_at.is_(None), InboundEvent.next_attempt_at <= now),
        )
        # A NULL lease: left "processing" before leases existed (migration 0004).
        abandoned = and_(
            InboundEvent.state == "processing",
            or_(InboundEvent.next_attempt_at.is_(None), InboundEvent.next_attempt_at <= now),
        )
        return or_(pending, abandoned)

    def process_inbound(self, limit: int = 50) -> int:
        """Handle due inbound events, oldest first; returns how many were handled."""
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            ids = list(
                session.scalars(
                    select(InboundEvent.id)
                    .where(self._due(now))
                    .order_by(InboundEvent.id)
                    .limit(limit)
                )
            )
        done = 0
        for event_id in ids:
            if self._process_one(event_id):
                done += 1
        return done

    def _claim_inbound(self, event_id: int) -> tuple[Event, int] | None:
        """Take the event for INBOUND_LEASE, renewed by heartbeat until dropped; the event and
        this claim's attempt number."""
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            claimed = session.execute(
                update(InboundEvent)
                .where(InboundEvent.id == event_id, self._due(now))
                .values(
                    state="processing",
                    attempts=InboundEvent.attempts + 1,
                    next_attempt_at=now + INBOUND_LEASE,
                )
            ).rowcount
            if not claimed:
                return None
            row = session.get(InboundEvent, event_id)
            assert row is not None
            try:
                event = Event.from_dict(row.payload)
            except Exception as exc:
                # Only a database writer makes a payload our adapters never wrote: it fails
                # alone, dead-lettered with the reason, and the round goes on.
                reason = storable(f"payload unreadable: {type(exc).__name__}: {exc}")[:400]
                row.state, row.next_attempt_at, row.error = "failed", None, reason
                log.error("inbound event %s dead after %s attempts: %s", event_id, row.attempts,
                          reason[:200])  # fmt: skip
                return None
            attempt = row.attempts
        self.leases.hold(InboundEvent, [(event_id, attempt)], now + INBOUND_LEASE)
        return event, attempt

    @staticmethod
    def _still_mine(event_id: int, attempt: int) -> ColumnElement[bool]:
        """The row is still held by this claim (no other worker took it over since)."""
        return and_(
            InboundEvent.id == event_id,
            InboundEvent.state == "processing",
            InboundEvent.attempts == attempt,
        )

    def _process_one(self, event_id: int) -> bool:
        claim = self._claim_inbound(event_id)
        if claim is None:
            return False
        event, attempt = claim
        started = time.perf_counter()
        with event_context(event.dedupe_key):
            try:
                handled = self._run_claimed(event_id, event, attempt)
            except Exception:
                # Even recording the failure failed (the database went away?): the lease runs
                # out and the event is taken again; the rest of the round goes on.
                log.exception("inbound event %s: failure not recorded", event_id)
                return False
            finally:
                self.leases.drop(InboundEvent, [event_id])
            if handled:
                log.info(
                    "handled %s %s event %s in %.0f ms",
                    event.platform, event.kind, event_id, (time.perf_counter() - started) * 1000,
                )  # fmt: skip
        return handled

    def _run_claimed(self, event_id: int, event: Event, attempt: int) -> bool:
        """Handle a claimed event and mark it done; False when it failed or was taken over."""
        if attempt > INBOUND_MAX_ATTEMPTS:
            # Taken over from workers that died on it every time (a photo that kills the
            # process?): handling it again would kill this one too.
            self._record_failure(event_id, attempt, event, RuntimeError("worker lost mid-event"))
            return False
        media: dict[str, bytes] = {}
        try:
            if not is_storable(event.sender_id):
                # PostgreSQL refuses a NUL in a query: the sender cannot even be looked up.
                raise _Unhandleable("sender id cannot be stored")
            if event.kind == EventKind.IMAGE and event.media_ref:
                media[event.media_ref] = self.state.adapters[event.platform].download_image(
                    event.media_ref
                )
            with session_scope(self.state.session_factory) as session:
                self._handle(session, event, media)
                values: dict[str, object] = {
                    "state": "done", "processed_at": self.state.clock.now(), "error": None,
                    "next_attempt_at": None,
                }  # fmt: skip
                if take_redact(session):
                    # An anonymous answer: neither the record nor the chat keeps what was said.
                    values["payload"] = redacted(event.to_dict())
                    self.state.adapters[event.platform].redact_inbound(session, event)
                done = session.execute(
                    update(InboundEvent).where(self._still_mine(event_id, attempt)).values(**values)
                ).rowcount
                if not done:
                    raise _LeaseLost
        except _LeaseLost:
            # Another worker took the event over after this one's lease ran out: its run
            # counts, this one's is rolled back.
            log.warning("inbound event %s: lease lost, result discarded", event_id)
            return False
        except Exception as exc:
            self._record_failure(event_id, attempt, event, exc)
            return False
        self._wake.set()
        return True

    def _record_failure(self, event_id: int, attempt: int, event: Event, exc: Exception) -> None:
        """Retry later, or dead-letter the event ("failed") and tell the sender; never silently,
        and never left "processing" because telling the sender failed too."""
        download = isinstance(exc, DeliveryError)
        final = (
            attempt >= INBOUND_MAX_ATTEMPTS
            or isinstance(exc, _Unhandleable)
            or (download and not exc.retryable)
        )
        # The reason may quote what the database refused (a NUL): stored escaped.
        reason = storable(f"{type(exc).__name__}: {exc}")[:400]
        now = self.state.clock.now()
        values: dict[str, object] = {"error": reason}
        notice: str | None = None
        if final:
            values.update(state="failed", next_attempt_at=None)
            failed_download = download and event.kind == EventKind.IMAGE
            notice = DOWNLOAD_FAILED if failed_download else HANDLING_FAILED.format(ref=event_id)
            log.error(
                "inbound event %s dead after %s attempts: %s", event_id, attempt, reason[:200],
                exc_info=None if download or isinstance(exc, _Unhandleable) else exc,
            )  # fmt: skip
        else:
            wait = inbound_backoff(attempt)
            if download and exc.retry_after:
                wait = max(wait, timedelta(seconds=exc.retry_after))
            values.update(state="pending", next_attempt_at=now + wait)
            if not download and attempt == 1:
                # Our own failure: say once that the message is not lost (a retry answers it).
                notice = RETRYING
            log.warning(
                "inbound event %s failed (attempt %s), retry in %s: %s", event_id, attempt, wait,
                reason[:200], exc_info=None if download or attempt > 1 else exc,
            )  # fmt: skip
        try:
            with session_scope(self.state.session_factory) as session:
                mine = session.execute(
                    update(InboundEvent).where(self._still_mine(event_id, attempt)).values(**values)
                ).rowcount
                if mine and notice is not None:
                    self._reply_failure(session, event, notice)
            return
        except Exception as reply_exc:
            if notice is None:
                raise
            # Telling the sender failed (their id is what broke the handler?): the event is
            # recorded all the same, not left to be taken again and fail the same way.
            log.warning("inbound event %s: the sender was not told: %s", event_id, reply_exc)
        values["error"] = f"{reason[:360]} (sender not told)"
        with session_scope(self.state.session_factory) as session:
            session.execute(
                update(InboundEvent).where(self._still_mine(event_id, attempt)).values(**values)
            )

    def _reply_failure(self, session: Session, event: Event, text: str) -> None:
        """Tell the sender their message was not handled."""
        if event.kind == EventKind.ENTER:
            return  # opening the chat asked for nothing
        sender = find_sender(session, event.platform, event.sender_id)
        if sender is not None:
            enqueue(
                session,
                Text(text),
                now=self.state.clock.now(),
                recipient=sender,
                platform=event.platform,
                target=event.reply_to,
            )

    def _handle(self, session: Session, event: Event, media: dict[str, bytes]) -> None:
        now = self.state.clock.now()
        sender = find_sender(session, event.platform, event.sender_id)
        if sender is None:
            self._answer_unknown(session, event)
            return
        sender.last_platform = event.platform

        def fetch_media(ref: str) -> bytes:
            if ref in media:
                return media[ref]
            return self.state.adapters[event.platform].download_image(ref)

        ctx = HandlerContext(
            session=session,
            now=now,
            tz=self.state.config.tz,
            signer=self.state.signer,
            media_dir=self.state.config.media_dir,
            event=event,
            sender=sender,
            fetch_media=fetch_media,
            second_approval_points=self.state.config.second_approval_points,
        )
        assert self.state.dispatch is not None, "the app wires the router in"
        for reply in self.state.dispatch(ctx):
            enqueue(
                session,
                reply,
                now=now,
                recipient=sender,
                platform=event.platform,
                target=event.reply_to,
            )

    def _answer_unknown(self, session: Session, event: Event) -> None:
        """One polite reply per unknown sender per day (design §11)."""
        now = self.state.clock.now()
        key = f"unknown:{event.platform}:{event.sender_id}"
        if cache_get(session, key, now) is not None:
            return
        cache_put(session, key, "1", now + UNKNOWN_SENDER_TTL)
        target = event.reply_to or {"user_id": event.sender_id}
        enqueue(session, Text(UNKNOWN_SENDER), now=now, platform=event.platform, target=target)

    # -- outbox --------------------------------------------------------------------------------

    def deliver_outbox(self, limit: int = BATCH) -> int:
        """Deliver one batch of due outbox rows; returns how many went out."""
        return self.delivery.deliver(limit)

    # -- loop ----------------------------------------------------------------------------------

    def heartbeat(self) -> int:
        """Renew the leases of every row this worker holds (the heartbeat thread calls it every
        HEARTBEAT); returns how many rows were renewed."""
        return self.leases.renew()

    def _beat(self) -> None:
        """The heartbeat thread: a slow step of the loop (a minute-long send) keeps its rows."""
        while not self._stop.wait(HEARTBEAT.total_seconds()):
            try:
                self.heartbeat()
            except Exception as exc:
                # The database is away: the rows' leases run out and sends stop starting
                # (leases.MARGIN); the next beat tries again.
                log.warning("heartbeat failed: %s", str(exc)[:200])

    def drain(self, rounds: int = 20) -> None:
        """Process everything that is due now (tests and CLI); stops when nothing moves."""
        for _ in range(rounds):
            moved = self.process_inbound() + self.deliver_outbox()
            if not moved:
                return

    def notify(self) -> None:
        """Wake the worker thread (after a commit that queued work)."""
        self._wake.set()

    def run(self, poll_seconds: float = 1.0) -> None:
        """Loop until stop(): work, then wait for a wake-up or the poll interval; a heartbeat
        thread renews the leases of what the loop holds meanwhile."""
        threading.Thread(target=self._beat, name="bot-heartbeat", daemon=True).start()
        while not self._stop.is_set():
            try:
                self.drain()
            except Exception:
                log.exception("worker loop error")
            self._wake.wait(poll_seconds)
            self._wake.clear()

    def start(self) -> threading.Thread:
        """Run in a daemon thread (embedded mode)."""
        self._thread = threading.Thread(target=self.run, name="bot-worker", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.delivery.close()
