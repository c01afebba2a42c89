"""ApiSession: the adapters' lean requests session still honours the environment and requests'
own behaviour where the platforms' APIs need it."""

from __future__ import annotations

import pytest
import requests

from adapters.common.session import ApiSession
from tests.fakes.server import FakeServer, Reply


@pytest.fixture
def fake():
    server = FakeServer().start()
    yield server
    server.stop()


def test_json_post_with_params_headers_and_timeout(fake):
    fake.route("POST", "/cgi-bin/message/send", lambda rec: Reply(body={"errcode": 0}))
    http = ApiSession()
    http.headers["X-Session"] = "s"
    resp = http.post(
        f"{fake.url}/cgi-bin/message/send",
        params={"access_token": "T"},
        json={"text": "今日任务"},
        headers={"X-Call": "c"},
        timeout=(5, 20),
    )
    assert resp.status_code == 200 and resp.json() == {"errcode": 0}
    (call,) = fake.calls("/cgi-bin/message/send")
    assert call.query == {"access_token": ["T"]}
    assert call.json() == {"text": "今日任务"}
    assert call.headers["X-Session"] == "s" and call.headers["X-Call"] == "c"
    assert call.headers["Content-Type"] == "application/json"


def test_multipart_upload(fake):
    fake.route("POST", "/upload", lambda rec: Reply(body={"media_id": "m1"}))
    resp = ApiSession().post(
        f"{fake.url}/upload", files={"media": ("a.jpg", b"\xff\xd8photo", "image/jpeg")}
    )
    assert resp.json() == {"media_id": "m1"}
    (call,) = fake.calls("/upload")
    assert call.headers["Content-Type"].startswith("multipart/form-data")
    assert b"\xff\xd8photo" in call.body


def test_environment_proxy_applies_and_no_proxy_is_respected(fake, monkeypatch):
    # The fake plays an HTTP proxy: a proxied request names the absolute URL, and the fake
    # routes on its path, so reaching the route proves the request went through the proxy.
    fake.route("GET", "/cgi-bin/gettoken", lambda rec: Reply(body={"access_token": "T"}))
    monkeypatch.setenv("HTTP_PROXY", fake.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url = "http://qyapi.example.invalid/cgi-bin/gettoken"
    # request(), as wechatpy calls it: Session.get() would add allow_redirects and the lean
    # path would still be taken, but this is the exact call shape the SDK uses.
    http = ApiSession()
    assert http.request("GET", url, params={"corpid": "c"}, timeout=5).json() == {
        "access_token": "T"
    }
    assert http.request("GET", url, timeout=5).status_code == 200  # cached settings
    assert len(fake.calls("/cgi-bin/gettoken")) == 2

    monkeypatch.setenv("NO_PROXY", "example.invalid")
    with pytest.raises(requests.ConnectionError):
        ApiSession().request("GET", url, timeout=5)
    assert len(fake.calls("/cgi-bin/gettoken")) == 2


def test_get_follows_a_redirect_and_stream_takes_the_full_path(fake):
    fake.route("GET", "/old", lambda rec: Reply(302, raw=b"moved", headers={"Location": "/new"}))
    fake.route(
        "GET", "/new", lambda rec: Reply(raw=b"bytes", headers={"Content-Type": "image/png"})
    )
    http = ApiSession()
    assert http.get(f"{fake.url}/old", timeout=5).content == b"bytes"
    with http.get(f"{fake.url}/new", timeout=5, stream=True) as resp:
        assert resp.raw.read(10) == b"bytes"


def test_connection_is_reused(fake):
    fake.route("POST", "/send", lambda rec: Reply(body={"ok": True}))
    http = ApiSession()
    for _ in range(3):
        http.post(f"{fake.url}/send", data=b"{}", timeout=5)
    assert _connections(http, fake.url) == 1


def _connections(http: ApiSession, url: str) -> int:
    """Connections the session's pools have opened so far."""
    pools = http.get_adapter(url).poolmanager.pools
    return sum(pools[key].num_connections for key in pools.keys())  # noqa: SIM118 (urllib3 container)
