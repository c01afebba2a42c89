"""The shared Open API client: one token refetch, one error mapping, capped downloads.

The platform plugged in here is a minimal one (token in a header, JSON answers with an integer
`code`); each adapter's own suite covers its real dialect end to end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from adapters.common.api import ApiClient
from bot.ports import DeliveryError
from bot.runtime.tokens import TokenCache
from tests.fakes.server import FakeServer, Reply

SECRET = "app-secret-xyz"


class ToyApi(ApiClient):
    """A platform whose token comes from POST /token and whose answers carry `code`."""

    platform = "toy"
    token_codes = frozenset({"401001"})
    busy_codes = frozenset({"-1"})
    rate_limits = {"429001": 30.0}
    token_header = "Authorization"
    token_prefix = "Bearer "

    def fetch_token(self) -> tuple[str, int]:
        body = self.call("token", "POST", "/token", json={"secret": SECRET}, authorized=False)
        return body.body["token"], 7200  # type: ignore[index]

    def read(self, resp: requests.Response) -> tuple[dict[str, Any] | None, str | None]:
        try:
            body = resp.json()
        except ValueError:
            return None, ""
        code = body.get("code", 0)
        return body, None if code == 0 else str(code)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer().start()
    tokens = iter(f"tok{i}" for i in range(1, 100))
    server.route("POST", "/token", lambda rec: Reply(body={"code": 0, "token": next(tokens)}))
    yield server
    server.stop()


@pytest.fixture
def api(state: Any, fake: FakeServer) -> ToyApi:
    cache = TokenCache(state.session_factory, state.clock)
    return ToyApi(fake.url, tokens=cache, token_key="toy:token")


def answers(*replies: Reply) -> Any:
    """A route answering `replies` in order, then repeating the last one."""
    queue = list(replies)
    return lambda rec: queue.pop(0) if len(queue) > 1 else queue[0]


def test_rejected_token_is_refetched_and_the_call_retried_once(api, fake):
    fake.route("POST", "/send", answers(Reply(body={"code": 401001}), Reply(body={"code": 0})))
    assert api.call("send", "POST", "/send", json={}).body == {"code": 0}
    assert [c.headers["Authorization"] for c in fake.calls("/send")] == [
        "Bearer tok1",
        "Bearer tok2",
    ]


def test_token_rejected_twice_is_retryable_without_a_third_fetch(api, fake):
    fake.route("POST", "/send", answers(Reply(401, {"code": 0})))
    with pytest.raises(DeliveryError) as info:
        api.call("send", "POST", "/send", json={})
    assert info.value.retryable and len(fake.calls("/token")) == 2


@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after"),
    [
        (Reply(503, {"code": 0}), True, None),
        (Reply(429, {}, headers={"Retry-After": "12"}), True, 12.0),
        (Reply(429, {}, headers={"Retry-After": "999999"}), True, 3600.0),
        (Reply(200, {"code": 429001}), True, 30.0),
        (Reply(200, {"code": -1}), True, None),
        (Reply(400, {"code": 230002}), False, None),
        (Reply(200, raw=b"<html>", headers={"Content-Type": "text/html"}), False, None),
    ],
    ids=["5xx", "429", "429-capped", "rate-limit-code", "busy-code", "refused", "not-json"],
)
def test_failures_map_to_one_delivery_error(api, fake, reply, retryable, retry_after):
    fake.route("POST", "/send", lambda rec: reply)
    with pytest.raises(DeliveryError) as info:
        api.call("send", "POST", "/send", json={})
    assert (info.value.retryable, info.value.retry_after) == (retryable, retry_after)
    message = str(info.value)
    assert message.startswith(f"toy send: HTTP {reply.status}")
    assert "tok1" not in message and SECRET not in message


def test_connection_error_is_retryable_and_names_only_the_call(api, fake):
    fake.lose_answers("POST", "/send")
    fake.route("POST", "/send", lambda rec: Reply(body={"code": 0}))
    with pytest.raises(DeliveryError) as info:
        api.call("send", "POST", "/send", json={})
    assert info.value.retryable and str(info.value) == "toy send: ConnectionError"


def test_download_reads_one_byte_past_the_limit(api, fake):
    fake.route(
        "GET", "/file", lambda rec: Reply(raw=b"x" * 100, headers={"Content-Type": "image/jpeg"})
    )
    assert api.download("file", "/file", limit=10) == b"x" * 11


def test_download_answered_with_json_is_not_a_file(api, fake):
    fake.route("GET", "/file", lambda rec: Reply(body={"code": 0}))
    with pytest.raises(DeliveryError) as info:
        api.download("file", "/file", limit=10)
    assert not info.value.retryable and "application/json" in str(info.value)
