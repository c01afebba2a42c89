"""Shared platform tokens: cached, refreshed early, fetched once even when callers race."""

from __future__ import annotations

import threading

import pytest

from bot.db import session_scope
from bot.models import KeyValue
from bot.runtime.tokens import TokenCache


def test_token_is_cached_until_shortly_before_expiry(state, clock):
    cache = TokenCache(state.session_factory, state.clock, early=300)
    fetched = []

    def fetch():
        fetched.append(1)
        return f"tok{len(fetched)}", 7200

    assert cache.get("wecom:app", fetch) == "tok1"
    clock.advance(seconds=7200 - 301)
    assert cache.get("wecom:app", fetch) == "tok1"
    clock.advance(seconds=2)
    assert cache.get("wecom:app", fetch) == "tok2"
    cache.invalidate("wecom:app")
    assert cache.get("wecom:app", fetch) == "tok3"


@pytest.mark.parametrize("processes", [1, 2], ids=["threads", "processes"])
def test_racing_callers_fetch_once(state, processes):
    """Callers racing in one process, or in two (two caches on one database): one fetch."""
    cache = TokenCache(state.session_factory, state.clock)
    other = cache if processes == 1 else TokenCache(state.session_factory, state.clock)
    calls = []
    entered = threading.Event()
    release = threading.Event()

    def slow_fetch():
        calls.append(1)
        entered.set()
        release.wait(5)
        return "shared", 7200

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(cache.get("k", slow_fetch)))
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=lambda: results.append(other.get("k", slow_fetch)))
    second.start()
    # Give the second caller time to reach the lock; without it, it would call fetch now.
    second.join(0.3)
    assert len(calls) == 1
    release.set()
    first.join(10)
    second.join(10)
    assert results == ["shared", "shared"] and len(calls) == 1


def test_a_refresh_does_not_hold_up_other_writers(state, clock):
    """Fetching a token is a network call; callbacks must still be able to write meanwhile."""
    cache = TokenCache(state.session_factory, state.clock)
    written = threading.Event()

    def write_elsewhere() -> None:
        with session_scope(state.session_factory) as session:
            session.add(KeyValue(key="other", value="v", expires_at=clock.now()))
        written.set()

    def fetch() -> tuple[str, int]:
        writer = threading.Thread(target=write_elsewhere, daemon=True)
        writer.start()
        writer.join(10)
        return "tok", 7200

    assert cache.get("k", fetch) == "tok"
    assert written.is_set()
