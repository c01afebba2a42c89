"""The job worker: turns recorded inbound events into replies and delivers the outbox."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from adapters.base import DeliveryError, MediaPayload, Recipient
from bot.db import session_scope
from bot.events import Event, EventKind
from bot.models import CardCopy, CardState, Employee, InboundEvent, KeyValue, Outbox
from bot.services.evidence import photo_path
from bot.services.outbox import enqueue
from bot.services.people import delivery_platform, find_sender
from cards import Card, Message, Text, message_from_dict
from handlers.context import HandlerContext
from handlers.router import UNKNOWN_SENDER, UNKNOWN_SENDER_TTL, dispatch

if TYPE_CHECKING:
    from bot.app import BotState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)
INBOUND_MAX_ATTEMPTS = 5


def backoff(attempts: int) -> timedelta:
    """Exponential backoff: 5 s, 10 s, 20 s … capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class Worker:
    """Processes inbound events and delivers outbox rows; one instance per process."""

    state: BotState

    def __post_init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- inbound -------------------------------------------------------------------------------

    def process_inbound(self, limit: int = 50) -> int:
        """Handle pending inbound events, oldest first; returns how many were handled."""
        with session_scope(self.state.session_factory) as session:
            ids = list(
                session.scalars(
                    select(InboundEvent.id)
                    .where(InboundEvent.state == "pending")
                    .order_by(InboundEvent.id)
                    .limit(limit)
                )
            )
        done = 0
        for event_id in ids:
            if self._process_one(event_id):
                done += 1
        return done

    def _claim_inbound(self, event_id: int) -> Event | None:
        with session_scope(self.state.session_factory) as session:
            claimed = session.execute(
                update(InboundEvent)
                .where(InboundEvent.id == event_id, InboundEvent.state == "pending")
                .values(state="processing", attempts=InboundEvent.attempts + 1)
            ).rowcount
            if not claimed:
                return None
            row = session.get(InboundEvent, event_id)
            assert row is not None
            return Event.from_dict(row.payload)

    def _process_one(self, event_id: int) -> bool:
        event = self._claim_inbound(event_id)
        if event is None:
            return False
        media: dict[str, bytes] = {}
        try:
            if event.kind == EventKind.IMAGE and event.media_ref:
                media[event.media_ref] = self.state.adapters[event.platform].download_image(
                    event.media_ref
                )
            with session_scope(self.state.session_factory) as session:
                self._handle(session, event, media)
                row = session.get(InboundEvent, event_id)
                assert row is not None
                row.state, row.processed_at, row.error = "done", self.state.clock.now(), None
        except Exception as exc:
            log.exception("inbound event %s failed", event_id)
            with session_scope(self.state.session_factory) as session:
                row = session.get(InboundEvent, event_id)
                assert row is not None
                row.error = f"{type(exc).__name__}: {str(exc)[:400]}"
                row.state = "failed" if row.attempts >= INBOUND_MAX_ATTEMPTS else "pending"
                if row.state == "failed" and event.kind == EventKind.IMAGE:
                    self._reply_failure(session, event)
            return False
        self._wake.set()
        return True

    def _reply_failure(self, session: Session, event: Event) -> None:
        sender = find_sender(session, event.platform, event.sender_id)
        if sender is not None:
            enqueue(
                session,
                Text("图片下载失败，请重新发送照片。"),
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
        )
        for reply in dispatch(ctx):
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
        key = f"unknown:{event.platform}:{event.sender_id}"[:200]
        row = session.get(KeyValue, key)
        if row is not None and row.expires_at > now:
            return
        if row is None:
            session.add(KeyValue(key=key, value="1", expires_at=now + UNKNOWN_SENDER_TTL))
        else:
            row.expires_at = now + UNKNOWN_SENDER_TTL
        target = event.reply_to or {"user_id": event.sender_id}
        enqueue(session, Text(UNKNOWN_SENDER), now=now, platform=event.platform, target=target)

    # -- outbox --------------------------------------------------------------------------------

    def deliver_outbox(self, limit: int = 100) -> int:
        """Deliver due outbox rows; returns how many were delivered."""
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            ids = list(
                session.scalars(
                    select(Outbox.id)
                    .where(
                        or_(Outbox.state == "pending", Outbox.state == "sending"),
                        Outbox.next_attempt_at <= now,
                    )
                    .order_by(Outbox.id)
                    .limit(limit)
                )
            )
        return sum(1 for row_id in ids if self._deliver_one(row_id))

    def _lease(self, row_id: int) -> Outbox | None:
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            leased = session.execute(
                update(Outbox)
                .where(
                    Outbox.id == row_id,
                    or_(Outbox.state == "pending", Outbox.state == "sending"),
                    Outbox.next_attempt_at <= now,
                )
                .values(state="sending", next_attempt_at=now + LEASE, attempts=Outbox.attempts + 1)
            ).rowcount
            if not leased:
                return None
            row = session.get(Outbox, row_id)
            assert row is not None
            session.expunge(row)
            return row

    def _deliver_one(self, row_id: int) -> bool:
        row = self._lease(row_id)
        if row is None:
            return False
        try:
            if row.kind == "update":
                self._deliver_update(row)
            else:
                self._deliver_send(row)
        except DeliveryError as exc:
            self._fail(row, str(exc), exc.retryable, exc.retry_after)
            return False
        except Exception as exc:
            log.exception("outbox %s: unexpected error", row.id)
            self._fail(row, f"{type(exc).__name__}: {exc}", True, None)
            return False
        return True

    def _fail(self, row: Outbox, error: str, retryable: bool, retry_after: float | None) -> None:
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            live = session.get(Outbox, row.id)
            assert live is not None
            live.last_error = error[:500]
            if not retryable or live.attempts >= MAX_ATTEMPTS:
                live.state = "dead"
                log.error(
                    "outbox %s dead after %s attempts: %s", row.id, live.attempts, error[:200]
                )
            else:
                wait = timedelta(seconds=retry_after) if retry_after else backoff(live.attempts)
                live.state, live.next_attempt_at = "pending", now + wait
                log.warning("outbox %s retry in %s: %s", row.id, wait, error[:200])

    def _resolve(self, session: Session, row: Outbox) -> tuple[str, Recipient]:
        enabled = set(self.state.adapters)
        employee = session.get(Employee, row.recipient_id) if row.recipient_id else None
        if row.platform and row.target is not None:
            if row.platform not in enabled:
                raise DeliveryError(f"platform {row.platform} is off", retryable=False)
            target = row.target
            return row.platform, Recipient(
                employee_id=row.recipient_id,
                user_id=target.get("user_id"),
                chat_id=target.get("chat_id"),
                reply_to=target,
            )
        if employee is None:
            raise DeliveryError("no recipient", retryable=False)
        if row.platform:
            ids = {i.platform: i.external_id for i in employee.identities}
            user_id = employee.employee_no if row.platform == "local" else ids.get(row.platform)
            if row.platform in enabled and user_id:
                return row.platform, Recipient(employee_id=employee.id, user_id=user_id)
        choice = delivery_platform(employee, enabled)
        if choice is None:
            raise DeliveryError(
                f"employee {employee.id} has no reachable platform", retryable=False
            )
        return choice[0], Recipient(employee_id=employee.id, user_id=choice[1])

    def media_loader(self, ref: str) -> MediaPayload | None:
        """Load `evidence:ID` for adapters that upload images."""
        from bot.models import Evidence

        if not ref.startswith("evidence:"):
            return None
        with session_scope(self.state.session_factory) as session:
            evidence = session.get(Evidence, int(ref.split(":", 1)[1]))
            if evidence is None:
                return None
            path = photo_path(self.state.config.media_dir, evidence)
            return MediaPayload(path.read_bytes(), path.name, evidence.mime_type)

    def _deliver_send(self, row: Outbox) -> None:
        with session_scope(self.state.session_factory) as session:
            platform, recipient = self._resolve(session, row)
            message: Message = message_from_dict(row.payload)
            version = None
            if row.card_key:
                state = session.get(CardState, row.card_key)
                if state is not None:
                    message, version = message_from_dict(state.payload), state.version
        adapter = self.state.adapters[platform]
        result = adapter.send(
            recipient, message, idempotency_key=f"ob{row.id}", media=self.media_loader
        )
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            live = session.get(Outbox, row.id)
            assert live is not None
            live.state, live.sent_at, live.last_error, live.platform = "sent", now, None, platform
            if row.card_key and isinstance(message, Card):
                session.add(
                    CardCopy(
                        card_key=row.card_key,
                        platform=platform,
                        recipient_id=recipient.employee_id,
                        outbox_id=row.id,
                        external_ref=result.external_ref,
                        version=version or 1,
                        created_at=now,
                    )
                )
        self._wake.set()

    def _deliver_update(self, row: Outbox) -> None:
        with session_scope(self.state.session_factory) as session:
            state = session.get(CardState, row.card_key)
            assert state is not None
            card = message_from_dict(state.payload)
            assert isinstance(card, Card)
            copies = [
                (c.id, c.platform, dict(c.external_ref))
                for c in session.scalars(
                    select(CardCopy).where(
                        CardCopy.card_key == row.card_key, CardCopy.version < state.version
                    )
                )
            ]
            version = state.version
        errors: list[DeliveryError] = []
        for copy_id, platform, ref in copies:
            adapter = self.state.adapters.get(platform)
            if adapter is None:
                continue
            try:
                new_ref = adapter.update_card(ref, card, media=self.media_loader)
            except DeliveryError as exc:
                errors.append(exc)
                continue
            with session_scope(self.state.session_factory) as session:
                copy = session.get(CardCopy, copy_id)
                assert copy is not None
                copy.version = version
                if new_ref is not None:
                    copy.external_ref = new_ref
        if errors:
            retryable = any(e.retryable for e in errors)
            raise DeliveryError(
                str(errors[0]), retryable=retryable, retry_after=errors[0].retry_after
            )
        with session_scope(self.state.session_factory) as session:
            live = session.get(Outbox, row.id)
            assert live is not None
            live.state, live.sent_at, live.last_error = "sent", self.state.clock.now(), None

    # -- loop ----------------------------------------------------------------------------------

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
        """Loop until stop(): work, then wait for a wake-up or the poll interval."""
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


__all__ = ["Worker", "backoff", "Any"]
