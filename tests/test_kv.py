"""The shared kv_cache: take-and-delete, put-if-absent and delete (WeCom's response codes)."""

from __future__ import annotations

from datetime import timedelta

from bot.db import session_scope
from bot.services.kv import cache_add, cache_delete, cache_get, cache_put, cache_take


def test_taking_a_live_value_returns_it_once(state, clock):
    expires = clock.now() + timedelta(hours=1)
    with session_scope(state.session_factory) as s:
        cache_put(s, "wecom:rc:t1", "rc-1", expires)
    with session_scope(state.session_factory) as s:
        assert cache_take(s, "wecom:rc:t1", clock.now()) == ("rc-1", expires)
    with session_scope(state.session_factory) as s:
        assert cache_take(s, "wecom:rc:t1", clock.now()) is None


def test_taking_an_expired_value_forgets_it(state, clock):
    with session_scope(state.session_factory) as s:
        cache_put(s, "wecom:rc:t2", "rc-2", clock.now() + timedelta(minutes=1))
    clock.advance(minutes=2)
    with session_scope(state.session_factory) as s:
        assert cache_take(s, "wecom:rc:t2", clock.now()) is None
    with session_scope(state.session_factory) as s:
        assert cache_add(s, "wecom:rc:t2", "new", clock.now() + timedelta(minutes=1))


def test_add_keeps_a_row_already_there_even_expired(state, clock):
    now = clock.now()
    with session_scope(state.session_factory) as s:
        assert cache_add(s, "k", "first", now + timedelta(minutes=1))
        assert not cache_add(s, "k", "second", now + timedelta(hours=1))
    clock.advance(minutes=2)
    with session_scope(state.session_factory) as s:
        assert not cache_add(s, "k", "third", clock.now() + timedelta(hours=1))
        assert cache_get(s, "k", now) == "first"


def test_delete_forgets_a_value_and_ignores_a_missing_one(state, clock):
    with session_scope(state.session_factory) as s:
        cache_put(s, "wecom:media:evidence:1", "m1", clock.now() + timedelta(days=2))
    with session_scope(state.session_factory) as s:
        cache_delete(s, "wecom:media:evidence:1")
        cache_delete(s, "no such key")
    with session_scope(state.session_factory) as s:
        assert cache_get(s, "wecom:media:evidence:1", clock.now()) is None
