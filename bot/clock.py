"""Time as an injectable dependency: the real clock, and a fixed one for tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Returns the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that only moves when told to (tests, `jobs run --now`)."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The frozen instant."""
        with self._lock:
            return self._now

    def advance(self, **kwargs: float) -> datetime:
        """Move forward by a timedelta given as keywords (minutes=30)."""
        with self._lock:
            self._now += timedelta(**kwargs)
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to an instant."""
        with self._lock:
            self._now = when.astimezone(UTC)
