"""The shared kv_cache: take-and-delete, put-if-absent, delete (WeCom's response codes) and
admit-once-per-token (DingTalk signature pairs)."""

from __future__ import annotations

from datetime import timedelta

from bot.db import session_scope
from bot.services.kv import (
    cache_add,
    cache_admit,
    cache_delete,
    cache_get,
    cache_purge,
    cache_put,
    cache_take,
)


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


def test_admit_takes_a_new_token_only_within_the_grace_of_the_first_use(state, clock):
    grace, expires = timedelta(seconds=5), clock.now() + timedelta(hours=1)

    def admit(token: str) -> bool:
        with session_scope(state.session_factory) as s:
            return cache_admit(s, "pair:1", token, now=clock.now(), grace=grace, expires_at=expires)

    assert admit("a")
    clock.advance(seconds=4)
    assert admit("b")
    clock.advance(seconds=2)  # 6 s after the first use
    assert admit("a") and admit("b")
    assert not admit("c")


def test_admit_refuses_tokens_past_the_limit(state, clock):
    expires = clock.now() + timedelta(hours=1)
    with session_scope(state.session_factory) as s:
        admitted = [
            cache_admit(
                s, "pair:2", t, now=clock.now(), grace=timedelta(seconds=5), expires_at=expires,
                limit=2,
            )
            for t in ("a", "b", "c", "a")
        ]  # fmt: skip
    assert admitted == [True, True, False, True]


def test_purge_deletes_only_expired_rows_under_the_prefix(state, clock):
    now = clock.now()
    with session_scope(state.session_factory) as s:
        cache_put(s, "dingtalk:pair:old", "1", now - timedelta(seconds=1))
        cache_put(s, "dingtalk:pair:new", "1", now + timedelta(hours=1))
        cache_put(s, "wecom:rc:old", "1", now - timedelta(seconds=1))
    with session_scope(state.session_factory) as s:
        assert cache_purge(s, "dingtalk:pair:", now) == 1
    with session_scope(state.session_factory) as s:
        assert cache_get(s, "dingtalk:pair:new", now) == "1"
        assert cache_add(s, "dingtalk:pair:old", "again", now + timedelta(hours=1))
        assert not cache_add(s, "wecom:rc:old", "again", now + timedelta(hours=1))
