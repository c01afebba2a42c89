"""Outbox delivery: lease a batch, resolve and pace it, send concurrently, record the outcomes.

A batch costs three short transactions however many rows it holds, and sends run on a small
thread pool: one thread per recipient key, so one person's messages keep their order while
different people's go out in parallel (the work is waiting on the platforms' HTTP APIs).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import outbox
from bot.db import is_unavailable, session_scope
from bot.models import CardState, Evidence, Outbox
from bot.ports import DeliveryError, MediaPayload, Recipient
from bot.runtime.batching import MATES, Chunk, group
from bot.runtime.leases import LEASE, Leases
from bot.runtime.pacing import Limit, pace_key, wait_until, window_counts
from bot.runtime.recording import record, record_failure
from bot.services.evidence import photo_path
from bot.services.images import media_path
from bot.services.people import Reach, delivery_platform, reach_of
from bot.storable import is_storable
from cards import Message, message_from_dict

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

# A leased row is another worker's only once its lease runs out, which the worker's heartbeat
# prevents while it lives, however slow a send; no send starts on a lease the heartbeat has not
# renewed lately (bot/runtime/leases.py).
BATCH = 200
THREADS = 8


def idempotency_key(row_id: int, created_at: datetime) -> str:
    """The key a row is sent under (WeCom task_id, DingTalk outTrackId, Feishu uuid ≤ 50).

    Retries of the row repeat it. The creation time keeps it unique beyond one database: a
    new or second database counts ids from 1 again, and a key the platform has seen is
    swallowed (DingTalk, Feishu) or refused (WeCom).
    """
    return f"ob{row_id}-{int(created_at.timestamp() * 1_000_000):x}"


@dataclass
class Plan:
    """One leased send row, resolved to a platform, recipient and rendered message."""

    row_id: int
    idempotency_key: str = ""
    attempt: int = 0  # the row's attempts under this lease
    platform: str = ""
    recipient: Recipient | None = None
    message: Message | None = None
    card_key: str | None = None
    version: int | None = None
    key: str = ""
    cost: int = 1  # platform messages the send takes (adapter.send_cost)
    batch_key: str | None = None  # rows with identical content (bot/runtime/batching.py)
    # outcome
    result: dict[str, Any] | None = None
    error: DeliveryError | None = None
    defer_until: datetime | None = None
    sent_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Delivery:
    """Delivers the outbox through the enabled adapters."""

    def __init__(self, state: BotState, leases: Leases | None = None):
        self.state = state
        self.leases = leases or Leases(state.session_factory, state.clock)
        # Kept across batches (starting threads for every batch showed in the delivery
        # profile); close() ends its threads.
        self._pool: ThreadPoolExecutor | None = None

    # -- public --------------------------------------------------------------------------------

    def deliver(self, limit: int = BATCH) -> int:
        """Deliver one batch of due rows; returns how many went out."""
        rows = self._lease(limit)
        if not rows:
            return 0
        try:
            rows += self._lease_mates(rows)
            return self._deliver(rows)
        finally:
            self.leases.drop(Outbox, [r.id for r in rows])

    def _deliver(self, rows: list[Outbox]) -> int:
        sends = [r for r in rows if r.kind == "send"]
        delivered = 0
        if sends:
            plans = self._plan(sends)
            ready = [p for p in plans if p.error is None and p.defer_until is None]
            chunks, singles = group(ready, self.state.adapters)
            self._send_all(singles, chunks)
            record(self.state, plans)
            delivered += sum(1 for p in plans if p.sent_at is not None)
        # Updates after this batch's sends, so fresh copies are known before they are updated.
        for row in rows:
            if row.kind != "update":
                continue
            if not self.leases.is_fresh(Outbox, row.id):
                self._release(row)  # the lease is not being renewed: the next batch takes it
                continue
            try:
                delivered += self._update(row)
            except Exception as exc:
                self._update_failed(row, exc)
        return delivered

    def _update_failed(self, row: Outbox, exc: Exception) -> None:
        """A card update that failed in our own code (its card state gone, a payload that no
        longer reads) fails alone: dead-lettered with the reason, the batch goes on. While
        the database is away nothing can be written: the row waits for its lease to lapse."""
        if is_unavailable(exc):
            log.warning("outbox %s: card update not recorded, database unavailable", row.id)
            return
        reason = f"card update failed: {type(exc).__name__}: {exc}"
        log.error("outbox %s dead: %s", row.id, reason[:200], exc_info=exc)
        with session_scope(self.state.session_factory) as session:
            outbox.mark_dead(session, row.id, row.attempts, reason)

    def _release(self, row: Outbox) -> None:
        """Hand a leased row back, due now (unless another worker has taken it over)."""
        with session_scope(self.state.session_factory) as session:
            outbox.release(session, row.id, row.attempts, self.state.clock.now())

    def close(self) -> None:
        """End the send threads (the worker stops)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def media_loader(self, ref: str) -> MediaPayload | None:
        """Load a card image for adapters that upload it: `evidence:ID` (a claim photo) or
        `media:PATH` (a generated image such as a leaderboard)."""
        if ref.startswith("media:"):
            path = media_path(self.state.config.media_dir, ref)
            if path is None:
                return None
            mime = "image/png" if path.suffix == ".png" else "image/jpeg"
            return MediaPayload(path.read_bytes(), path.name, mime)
        if not ref.startswith("evidence:"):
            return None
        with session_scope(self.state.session_factory) as session:
            evidence = session.get(Evidence, int(ref.split(":", 1)[1]))
            if evidence is None:
                return None
            path = photo_path(self.state.config.media_dir, evidence)
            return MediaPayload(path.read_bytes(), path.name, evidence.mime_type)

    # -- lease ---------------------------------------------------------------------------------

    def _lease(self, limit: int) -> list[Outbox]:
        """Take due rows (pending, or leased by a worker that died) for LEASE."""
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            rows = outbox.lease(session, limit, now, now + LEASE)
        self.leases.hold(Outbox, [(r.id, r.attempts) for r in rows], now + LEASE)
        return rows

    def _lease_mates(self, rows: list[Outbox]) -> list[Outbox]:
        """The rest of the batches the leased rows belong to, up to MATES rows."""
        keys = {r.batch_key for r in rows if r.batch_key and r.kind == "send"}
        if not keys:
            return []
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            rows = outbox.lease_mates(session, keys, MATES, now, now + LEASE)
        self.leases.hold(Outbox, [(r.id, r.attempts) for r in rows], now + LEASE)
        return rows

    # -- plan ----------------------------------------------------------------------------------

    def _plan(self, rows: list[Outbox]) -> list[Plan]:
        """Resolve each row's platform and recipient, apply pacing, render the message."""
        now = self.state.clock.now()
        plans = [
            Plan(
                row.id,
                idempotency_key(row.id, row.created_at),
                attempt=row.attempts,
                card_key=row.card_key,
                batch_key=row.batch_key,
            )
            for row in rows
        ]
        with session_scope(self.state.session_factory) as session:
            # Load the batch's people, identities and cards up front: a query per row was most
            # of the cost of a batch.
            people = reach_of(session, {row.recipient_id for row in rows if row.recipient_id})
            card_keys = {row.card_key for row in rows if row.card_key}
            cards = {
                c.key: c
                for c in session.scalars(select(CardState).where(CardState.key.in_(card_keys)))
            }
            for row, plan in zip(rows, plans, strict=True):
                # One row that cannot be planned fails alone; the batch goes on without it.
                try:
                    self._plan_row(row, plan, people, cards)
                except DeliveryError as exc:
                    plan.error = exc
                except Exception as exc:
                    log.exception("outbox %s: unexpected error planning the send", row.id)
                    plan.error = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
            self._pace(session, [p for p in plans if p.error is None], now)
        return plans

    def _plan_row(
        self, row: Outbox, plan: Plan, people: dict[int, Reach], cards: dict[str, CardState]
    ) -> None:
        """Fill in one plan: platform, recipient, pacing key, message and cost.

        Raises: DeliveryError when the row cannot be sent.
        """
        plan.platform, plan.recipient = self._resolve(row, people)
        r = plan.recipient
        plan.key = pace_key(plan.platform, r.user_id, r.chat_id, r.employee_id)
        if not is_storable(plan.key):
            # A NUL in a chat id from a callback: PostgreSQL refuses it in the pacing query,
            # which would fail the whole batch, and when recording the send.
            raise DeliveryError("recipient id cannot be stored", retryable=False)
        plan.message = message_from_dict(row.payload)
        card_state = cards.get(row.card_key) if row.card_key else None
        if card_state is not None:
            plan.message = message_from_dict(card_state.payload)
            plan.version = card_state.version
        plan.cost = self.state.adapters[plan.platform].send_cost(r, plan.message)

    def _limits(self, plan: Plan) -> tuple[Limit, ...]:
        assert plan.recipient is not None
        kind = "chat" if plan.recipient.chat_id else "user"
        return self.state.rate_limits.get(plan.platform, {}).get(kind, ())

    def _pace(self, session: Session, plans: list[Plan], now: datetime) -> None:
        """Hold back what would exceed a recipient's limits (counting this batch too)."""
        windows = {limit.seconds for p in plans for limit in self._limits(p)}
        keys = {p.key for p in plans}
        sent = {seconds: window_counts(session, keys, seconds, now) for seconds in windows}
        planned: dict[str, int] = defaultdict(int)
        held: dict[str, datetime] = {}
        for plan in plans:
            if plan.key in held:
                # Keep one person's messages in order: nothing overtakes a held-back one.
                plan.defer_until = held[plan.key]
                continue
            limits = self._limits(plan)
            if any(
                sent[lim.seconds].get(plan.key, 0) + planned[plan.key] + plan.cost > lim.count
                for lim in limits
            ):
                plan.defer_until = wait_until(
                    session, plan.key, limits, now, planned[plan.key], plan.cost
                )
                if plan.defer_until is not None:
                    held[plan.key] = plan.defer_until
                    continue
            planned[plan.key] += plan.cost

    def _resolve(self, row: Outbox, people: dict[int, Reach]) -> tuple[str, Recipient]:
        enabled = set(self.state.adapters)
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
        reach = people.get(row.recipient_id) if row.recipient_id else None
        if reach is None:
            raise DeliveryError("no recipient", retryable=False)
        if row.platform:
            user_id = reach.employee_no if row.platform == "local" else reach.ids.get(row.platform)
            if row.platform in enabled and user_id:
                return row.platform, Recipient(employee_id=reach.employee_id, user_id=user_id)
        choice = delivery_platform(reach, enabled)
        if choice is None:
            raise DeliveryError(
                f"employee {reach.employee_id} has no reachable platform", retryable=False
            )
        return choice[0], Recipient(employee_id=reach.employee_id, user_id=choice[1])

    # -- send ----------------------------------------------------------------------------------

    def _send_all(self, plans: list[Plan], chunks: list[Chunk] | None = None) -> None:
        groups: dict[str, list[Plan]] = defaultdict(list)
        for plan in plans:
            groups[plan.key].append(plan)
        chunks = chunks or []
        if len(groups) + len(chunks) <= 1:
            for one in groups.values():
                self._send_group(one)
            for chunk in chunks:
                self._send_chunk(chunk)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="outbox")
        futures = [self._pool.submit(self._send_group, one) for one in groups.values()]
        futures += [self._pool.submit(self._send_chunk, chunk) for chunk in chunks]
        wait(futures)  # every group finishes before the batch is recorded, even if one raised
        for future in futures:
            future.result()

    def _send_group(self, plans: list[Plan]) -> None:
        """Send one recipient's messages in order; a failure holds back the rest of the group,
        and so does a lease no longer renewed (the rest goes in the next batch)."""
        for i, plan in enumerate(plans):
            now = self.state.clock.now()
            if not self.leases.is_fresh(Outbox, plan.row_id):
                for later in plans[i:]:
                    later.defer_until = now
                return
            adapter = self.state.adapters[plan.platform]
            assert plan.recipient is not None and plan.message is not None
            try:
                sent = adapter.send(
                    plan.recipient,
                    plan.message,
                    idempotency_key=plan.idempotency_key,
                    media=self.media_loader,
                )
            except DeliveryError as exc:
                plan.error = exc
            except Exception as exc:
                log.exception("outbox %s: unexpected error", plan.row_id)
                plan.error = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
            else:
                plan.result, plan.sent_at = sent.external_ref, self.state.clock.now()
                continue
            for later in plans[i + 1 :]:
                later.defer_until = self.state.clock.now() + timedelta(seconds=1)
            return

    def _send_chunk(self, chunk: Chunk) -> None:
        """One batch call for a chunk; each plan records its own recipient's outcome."""
        plans: list[Plan] = chunk.plans
        now = self.state.clock.now()
        if not all(self.leases.is_fresh(Outbox, p.row_id) for p in plans):
            for plan in plans:
                plan.defer_until = now
            return
        first = plans[0]
        assert first.message is not None
        recipients = [p.recipient for p in plans if p.recipient is not None]
        try:
            results = self.state.adapters[chunk.platform].send_batch(
                recipients,
                first.message,
                idempotency_key=first.idempotency_key,
                media=self.media_loader,
            )
        except DeliveryError as exc:
            for plan in plans:
                plan.error = exc
            return
        except Exception as exc:
            log.exception("outbox %s: unexpected error in a batch of %s", first.row_id, len(plans))
            for plan in plans:
                plan.error = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
            return
        sent_at = self.state.clock.now()
        for plan, result in zip(plans, results, strict=True):
            if isinstance(result, DeliveryError):
                plan.error = result
            else:
                plan.result, plan.sent_at = result.external_ref, sent_at

    # -- card updates --------------------------------------------------------------------------

    def _update(self, row: Outbox) -> int:
        """Bring every older copy of a card up to its current version; 1 when done."""
        assert row.card_key is not None
        with session_scope(self.state.session_factory) as session:
            card, version, copies = outbox.stale_copies(session, row.card_key)
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
            except Exception as exc:
                log.exception("outbox %s: unexpected error updating a card", row.id)
                errors.append(DeliveryError(f"{type(exc).__name__}: {exc}"))
                continue
            with session_scope(self.state.session_factory) as session:
                outbox.mark_copy_updated(session, copy_id, version, new_ref)
        now = self.state.clock.now()
        with session_scope(self.state.session_factory) as session:
            if not errors:
                outbox.mark_update_done(session, row.id, now)
                return 1
            # Copies already updated keep their new version; a retry only touches the rest.
            live = session.get(Outbox, row.id)
            assert live is not None
            if live.state != "sending" or live.attempts != row.attempts:
                return 0  # taken over meanwhile: the other worker retries it
            first = errors[0]
            retryable = any(e.retryable for e in errors)
            record_failure(
                live,
                DeliveryError(str(first), retryable=retryable, retry_after=first.retry_after),
                now,
            )
            return 0
