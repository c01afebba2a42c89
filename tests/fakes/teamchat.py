"""A fake Open API for `teamchat`, the fifth platform that tests/test_platform_table.py defines
entirely inside tests/ (its adapter package is tests/teamchat/), and its callbacks signed the way
that platform signs them.

The invented wire, shaped like the messengers we know: an app token from `POST /api/auth.token`
(client id and secret), sent as `Authorization: Bearer`; `POST /api/chat.post` (one message to a
user or a channel, `client_msg_id` makes a repeat land once), `POST /api/chat.update`,
`POST /api/files.upload` (multipart `file`), `GET /api/files.get?id=`. Answers are JSON with
`ok`, and `error` when not ok. Callbacks are POSTed JSON with `X-Teamchat-Timestamp` (unix
seconds) and `X-Teamchat-Signature: v1=<hex HMAC-SHA256(signing secret, "v1:<ts>:<body>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

CLIENT_ID = "tc-client-1"
CLIENT_SECRET = "tc-client-secret-0123456789"
SIGNING_SECRET = "tc-signing-secret-0123456789"
TOKEN_PATH = "/api/auth.token"
POST_PATH = "/api/chat.post"
UPDATE_PATH = "/api/chat.update"
UPLOAD_PATH = "/api/files.upload"
FILE_PATH = "/api/files.get"


@dataclass
class Posted:
    """One message the bot posted; `versions` are its later updates."""

    message_id: str
    to: str  # a user id or a channel id
    body: dict[str, Any]
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        """The message as the person sees it now."""
        return self.versions[-1] if self.versions else self.body


class FakeTeamchat:
    """The teamchat Open API as far as its adapter uses it."""

    def __init__(self) -> None:
        self.server = FakeServer()
        self.messages: list[Posted] = []
        self.uploads: dict[str, bytes] = {}  # file_id → the multipart body that uploaded it
        self.files: dict[str, bytes] = {}  # what users sent, by file id
        self.valid_tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        for method, path, fn in (
            ("POST", TOKEN_PATH, self._token),
            ("POST", POST_PATH, self._post),
            ("POST", UPDATE_PATH, self._update),
            ("POST", UPLOAD_PATH, self._upload),
            ("GET", FILE_PATH, self._file),
        ):
            self.server.route(method, path, fn if path == TOKEN_PATH else self._authed(fn))

    @property
    def url(self) -> str:
        """TEAMCHAT_API_BASE for the adapter."""
        return self.server.url

    def start(self) -> FakeTeamchat:
        """Serve in a daemon thread."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Shut down; fails the test on unknown paths."""
        self.server.stop()

    def env(self) -> dict[str, str]:
        """The TEAMCHAT_* variables pointing the adapter at this fake."""
        return {
            "TEAMCHAT_CLIENT_ID": CLIENT_ID,
            "TEAMCHAT_CLIENT_SECRET": CLIENT_SECRET,
            "TEAMCHAT_SIGNING_SECRET": SIGNING_SECRET,
            "TEAMCHAT_API_BASE": self.url,
        }

    def to(self, who: str) -> list[Posted]:
        """Messages posted to a user or channel, oldest first."""
        return [m for m in self.messages if m.to == who]

    # -- routes --------------------------------------------------------------------------------

    def _authed(self, fn: Any) -> Any:
        def route(rec: Recorded) -> Reply:
            auth = rec.headers.get("Authorization", "")
            with self._lock:
                ok = auth.startswith("Bearer ") and auth[7:] in self.valid_tokens
            if not ok:
                return Reply(401, {"ok": False, "error": "invalid_auth"})
            return fn(rec)

        return route

    def _token(self, rec: Recorded) -> Reply:
        if rec.json() != {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}:
            return Reply(400, {"ok": False, "error": "invalid_client"})
        token = f"tct-{next(self._ids)}"
        with self._lock:
            self.valid_tokens.add(token)
        return Reply(200, {"ok": True, "access_token": token, "expires_in": 7200})

    def _post(self, rec: Recorded) -> Reply:
        body = rec.json()
        with self._lock:
            for message in self.messages:
                if message.body.get("client_msg_id") == body.get("client_msg_id"):
                    return Reply(200, {"ok": True, "message_id": message.message_id})
            message = Posted(f"tm{next(self._ids)}", body.get("user") or body["channel"], body)
            self.messages.append(message)
        return Reply(200, {"ok": True, "message_id": message.message_id})

    def _update(self, rec: Recorded) -> Reply:
        body = rec.json()
        with self._lock:
            found = [m for m in self.messages if m.message_id == body.get("message_id")]
            if not found:
                return Reply(404, {"ok": False, "error": "message_not_found"})
            found[0].versions.append(body)
        return Reply(200, {"ok": True})

    def _upload(self, rec: Recorded) -> Reply:
        if b'name="file"' not in rec.body:
            return Reply(400, {"ok": False, "error": "no_file"})
        with self._lock:
            file_id = f"F{next(self._ids)}"
            self.uploads[file_id] = rec.body
        return Reply(200, {"ok": True, "file_id": file_id})

    def _file(self, rec: Recorded) -> Reply:
        data = self.files.get((rec.query.get("id") or [""])[0])
        if data is None:
            return Reply(404, {"ok": False, "error": "file_not_found"})
        return Reply(200, raw=data, headers={"Content-Type": "image/jpeg"})


# -- inbound -------------------------------------------------------------------------------------


def signed_headers(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers teamchat signs a callback with."""
    base = f"v1:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Teamchat-Timestamp": str(timestamp), "X-Teamchat-Signature": f"v1={digest}"}


def post_event(client: Any, payload: dict[str, Any], timestamp: int, **sign: Any) -> Any:
    """POST one signed callback to /teamchat/events."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = signed_headers(body, timestamp, **sign)
    return client.post(
        "/teamchat/events", data=body, headers=headers, content_type="application/json"
    )
