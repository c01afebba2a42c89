"""Prometheus metrics at GET /metrics (design §16).

Counted in the process that sees them: platform callbacks by platform and status, with
acknowledgement latency. Read from the database at each scrape, so every web process answers
the same: inbound queue depth, outbox depth and oldest age, dead letters, asks overdue,
escalation lag, and whether a scheduler holds the lease.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (an empty directory, emptied
at each start): the counters are then summed over the worker processes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import is_unavailable, unavailable_reason
from bot.models import Ask, AskState, InboundEvent, Outbox, SchedulerLease

log = logging.getLogger(__name__)

CALLBACKS = Counter(
    "bot_callbacks_total",
    "Platform callbacks answered, by platform and HTTP status",
    ["platform", "status"],
)
CALLBACK_SECONDS = Histogram(
    "bot_callback_seconds",
    "Time to answer a platform callback (deadlines: DingTalk 1.5 s, Feishu 3 s, WeCom 5 s)",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0),
)
CONTENT_TYPE = CONTENT_TYPE_LATEST
LIVE_ASKS = (AskState.OPEN, AskState.ACKNOWLEDGED)


def observe_callback(platform: str, status: int, seconds: float) -> None:
    """Count one answered callback and its latency."""
    CALLBACKS.labels(platform, str(status)).inc()
    CALLBACK_SECONDS.labels(platform).observe(seconds)


class DatabaseCollector(Collector):
    """Queue depths and ages read from the database when Prometheus scrapes."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock):
        self.session_factory = session_factory
        self.clock = clock

    def describe(self) -> list[Any]:
        """Nothing up front: describing would query the database at registration."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge family per measure; a database error yields bot_metrics_database_up 0."""
        now = self.clock.now()
        try:
            with self.session_factory() as session:
                values = _measure(session, now)
        except Exception as exc:
            if isinstance(exc, SQLAlchemyError) and is_unavailable(exc):
                # An outage: one line per scrape, not a traceback every 15 seconds.
                log.warning("metrics: database unavailable (%s)", unavailable_reason(exc))
            else:
                log.exception("metrics: database unreachable")
            yield GaugeMetricFamily(
                "bot_metrics_database_up", "Database answered the scrape", value=0
            )
            return
        yield GaugeMetricFamily("bot_metrics_database_up", "Database answered the scrape", value=1)
        inbound = GaugeMetricFamily(
            "bot_inbound_queue_depth", "Inbound events not yet handled, by state", labels=["state"]
        )
        for state, count in values["inbound"].items():
            inbound.add_metric([state], count)
        yield inbound
        yield GaugeMetricFamily(
            "bot_outbox_depth", "Outbox rows waiting to be delivered", value=values["outbox"]
        )
        yield GaugeMetricFamily(
            "bot_outbox_oldest_age_seconds",
            "Age of the oldest undelivered outbox row",
            value=values["oldest"],
        )
        dead = GaugeMetricFamily(
            "bot_dead_letters", "Given up after the last retry", labels=["kind"]
        )
        dead.add_metric(["outbox"], values["dead_outbox"])
        dead.add_metric(["inbound"], values["dead_inbound"])
        yield dead
        yield GaugeMetricFamily(
            "bot_asks_overdue", "Open asks past their due time", value=values["overdue"]
        )
        yield GaugeMetricFamily(
            "bot_escalation_lag_seconds",
            "How late the oldest due escalation step is (0 when the tick keeps up)",
            value=values["lag"],
        )
        leader = GaugeMetricFamily(
            "bot_scheduler_leader", "1 while a scheduler holds the lease", labels=["holder"]
        )
        leader.add_metric([values["holder"] or ""], 1 if values["holder"] else 0)
        yield leader


def _measure(session: Session, now: datetime) -> dict[str, Any]:
    def one(query: Any) -> Any:
        return session.scalar(query)

    inbound = dict(
        session.execute(
            select(InboundEvent.state, func.count(InboundEvent.id))
            .where(InboundEvent.state.in_(("pending", "processing")))
            .group_by(InboundEvent.state)
        ).all()
    )
    waiting = Outbox.state.in_(("pending", "sending"))
    oldest = one(select(func.min(Outbox.created_at)).where(waiting))
    due_step = one(
        select(func.min(Ask.next_step_at)).where(Ask.state.in_(LIVE_ASKS), Ask.next_step_at <= now)
    )
    lease = session.get(SchedulerLease, 1)
    return {
        "inbound": {
            "pending": inbound.get("pending", 0),
            "processing": inbound.get("processing", 0),
        },
        "outbox": one(select(func.count(Outbox.id)).where(waiting)) or 0,
        "oldest": max((now - oldest).total_seconds(), 0) if oldest else 0,
        "dead_outbox": one(select(func.count(Outbox.id)).where(Outbox.state == "dead")) or 0,
        "dead_inbound": one(
            select(func.count(InboundEvent.id)).where(InboundEvent.state == "failed")
        )
        or 0,
        "overdue": one(select(func.count(Ask.id)).where(Ask.state.in_(LIVE_ASKS), Ask.due_at < now))
        or 0,
        "lag": max((now - due_step).total_seconds(), 0) if due_step else 0,
        "holder": lease.holder
        if lease is not None and lease.holder and lease.expires_at > now
        else None,
    }


def render(session_factory: sessionmaker[Session], clock: Clock) -> bytes:
    """The exposition text: this process's (or, in multiprocess mode, every process's)
    counters plus the database gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(CALLBACKS)
        registry.register(CALLBACK_SECONDS)
    registry.register(DatabaseCollector(session_factory, clock))
    return generate_latest(registry)
