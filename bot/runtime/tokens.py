"""Platform access tokens shared by every process through the database (one refresh at a time)."""

from __future__ import annotations

import fcntl
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.db import session_scope
from bot.models import KeyValue


class TokenCache:
    """get-or-refresh over the kv_cache table; refreshes `early` seconds before expiry."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock, early: int = 300):
        self._factory = session_factory
        self._clock = clock
        self._early = early
        # A process-local copy saves a database round trip per API call; the platforms keep a
        # token valid until it expires even after another process has refreshed it.
        self._memo: dict[str, tuple[str, datetime]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _valid(self, session: Session, key: str) -> str | None:
        row = session.get(KeyValue, key, populate_existing=True)
        now = self._clock.now()
        if row is not None and row.expires_at - timedelta(seconds=self._early) > now:
            self._memo[key] = (row.value, row.expires_at)
            return row.value
        return None

    def get(self, key: str, fetch: Callable[[], tuple[str, int]]) -> str:
        """Return a cached token, or call `fetch() -> (token, expires_in_seconds)` once across
        threads and processes; the others wait and use its token."""
        memo = self._memo.get(key)
        if memo is not None and memo[1] - timedelta(seconds=self._early) > self._clock.now():
            return memo[0]
        token = self._read(key)
        if token is not None:
            return token
        with self._lock_for(key):
            token = self._read(key)  # another thread may have refreshed it meanwhile
            if token is not None:
                return token
            database = self._sqlite_file()
            if database is None:
                with session_scope(self._factory) as session:
                    if session.get_bind().dialect.name == "postgresql":
                        # Serialize refreshes across processes; other writers are not blocked.
                        session.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"),
                            {"k": zlib.crc32(key.encode())},
                        )
                    token = self._valid(session, key)
                    if token is not None:
                        return token
                    return self._store(session, key, *fetch())
            # SQLite: a transaction holds the file's write lock, and every callback waits for it,
            # so never across a network call. Processes sharing the file (all on this host)
            # take turns on a lock file beside it instead.
            with _file_lock(f"{database}-tokens.lock"):
                token = self._read(key)  # another process may have refreshed it meanwhile
                if token is not None:
                    return token
                value, expires_in = fetch()
                with session_scope(self._factory) as session:
                    return self._store(session, key, value, expires_in)

    def _sqlite_file(self) -> str | None:
        """The database file when the database is an SQLite file, else None."""
        with self._factory() as session:
            url = session.get_bind().url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return url.database

    def _read(self, key: str) -> str | None:
        with session_scope(self._factory) as session:
            return self._valid(session, key)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _store(self, session: Session, key: str, value: str, expires_in: int) -> str:
        expires_at = self._clock.now() + timedelta(seconds=int(expires_in))
        self._memo[key] = (value, expires_at)
        row = session.get(KeyValue, key)
        if row is None:
            session.add(KeyValue(key=key, value=value, expires_at=expires_at))
        else:
            row.value, row.expires_at = value, expires_at
        return value

    def invalidate(self, key: str) -> None:
        """Forget a token the platform rejected (expired early)."""
        self._memo.pop(key, None)
        with session_scope(self._factory) as session:
            session.execute(delete(KeyValue).where(KeyValue.key == key))


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    """An exclusive lock held between processes (flock) for the block's duration."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
