"""A fake Feishu Open API on the recording FakeServer, and inbound events built like Feishu's.

Outbound: tenant token, send message (with `uuid` idempotency), PATCH card, image upload and
message resources; tokens can be expired and any route can be given canned replies (429, 500).
Inbound: `FeishuEvents` encrypts (AES-256-CBC, key = SHA256(encrypt_key), base64(iv ‖ ct)) and
signs (X-Lark-Signature = sha256_hex(timestamp + nonce + encrypt_key + body)) like Feishu does.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, Recorded, Reply

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
IMAGES_PATH = "/open-apis/im/v1/images"
BATCH_PATH = "/open-apis/message/v4/batch_send/"
BATCH_MAX = 200  # what the adapter assumes per call; the fake refuses more
INVALID_TOKEN = {"code": 99991663, "msg": "Invalid access token for authorization."}


@dataclass
class SentMessage:
    """A message the bot sent; `content` is the parsed JSON, `patches` later card versions."""

    message_id: str
    receive_id_type: str
    receive_id: str
    msg_type: str
    content: dict[str, Any]
    uuid: str | None
    patches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        """The content as the user sees it now (after the last PATCH)."""
        return self.patches[-1] if self.patches else self.content

    @property
    def text(self) -> str:
        """Text of a text message."""
        assert self.msg_type == "text", f"{self.message_id} is {self.msg_type}"
        return self.content["text"]

    @property
    def title(self) -> str:
        """Header title of a card."""
        return self.current["header"]["title"]["content"]


class FakeFeishu:
    """The Feishu Open API as far as the adapter uses it."""

    def __init__(self) -> None:
        self.server = FakeServer()
        self.messages: list[SentMessage] = []
        self.uploads: list[Recorded] = []
        self.images: dict[str, bytes] = {}  # image_key → the multipart body that uploaded it
        self.valid_tokens: set[str] = set()
        self._canned: dict[tuple[str, str], list[Reply]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._route("POST", TOKEN_PATH, self._token)
        self._route("POST", MESSAGES_PATH, self._send)
        self._route("POST", BATCH_PATH, self._batch_send)
        self.invalid_open_ids: set[str] = set()
        self._route("POST", IMAGES_PATH, self._upload)

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The domain to configure as FEISHU_DOMAIN."""
        return self.server.url

    def start(self) -> FakeFeishu:
        """Start serving."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop; fails the test if the adapter hit a path the fake does not know."""
        self.server.stop()

    # -- test controls -------------------------------------------------------------------------

    def queue(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next calls to `path` with `replies` (in order) before the normal route."""
        with self._lock:
            self._canned[(method, path)].extend(replies)

    def expire_tokens(self) -> None:
        """Invalidate every tenant token issued so far (Feishu expiring one early)."""
        with self._lock:
            self.valid_tokens.clear()

    def serve_resource(self, message_id: str, file_key: str, data: bytes) -> None:
        """Make a user's image downloadable as /im/v1/messages/{id}/resources/{key}."""

        def resource(rec: Recorded) -> Reply:
            if not self._authorized(rec):
                return Reply(400, INVALID_TOKEN)
            if rec.query.get("type") != ["image"]:
                return Reply(400, {"code": 234001, "msg": "Invalid request param."})
            return Reply(200, raw=data, headers={"Content-Type": "image/jpeg"})

        self._route("GET", f"{MESSAGES_PATH}/{message_id}/resources/{file_key}", resource)

    def calls(self, path: str, method: str | None = None) -> list[Recorded]:
        """Requests received on `path`."""
        return self.server.calls(path, method)

    def to(self, receive_id: str) -> list[SentMessage]:
        """Everything delivered to an open_id or chat_id, oldest first."""
        return [m for m in self.messages if m.receive_id == receive_id]

    def texts(self, receive_id: str) -> list[str]:
        """Texts delivered to `receive_id`."""
        return [m.text for m in self.to(receive_id) if m.msg_type == "text"]

    def last_card(self, receive_id: str, title_prefix: str = "") -> SentMessage:
        """The newest card delivered to `receive_id` whose title starts with `title_prefix`."""
        for message in reversed(self.to(receive_id)):
            if message.msg_type == "interactive" and message.title.startswith(title_prefix):
                return message
        raise AssertionError(f"no card {title_prefix!r} sent to {receive_id}")

    # -- routes --------------------------------------------------------------------------------

    def _route(self, method: str, path: str, fn: Any) -> None:
        def guarded(rec: Recorded) -> Reply:
            with self._lock:
                canned = self._canned.get((method, path))
                if canned:
                    return canned.pop(0)
            return fn(rec)

        self.server.route(method, path, guarded)

    def _authorized(self, rec: Recorded) -> bool:
        auth = rec.headers.get("Authorization", "")
        with self._lock:
            return auth.startswith("Bearer ") and auth[7:] in self.valid_tokens

    def _token(self, rec: Recorded) -> Reply:
        body = rec.json()
        if not body.get("app_id") or not body.get("app_secret"):
            return Reply(400, {"code": 10003, "msg": "invalid param"})
        token = f"t-{next(self._ids)}"
        with self._lock:
            self.valid_tokens.add(token)
        return Reply(200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})

    def _send(self, rec: Recorded) -> Reply:
        if not self._authorized(rec):
            return Reply(400, INVALID_TOKEN)
        body = rec.json()
        uid = body.get("uuid")
        with self._lock:
            for message in self.messages:
                if uid and message.uuid == uid:  # Feishu: one successful send per uuid per hour
                    return Reply(200, {"code": 0, "msg": "success", "data": _data(message)})
            message = SentMessage(
                message_id=f"om_{next(self._ids)}",
                receive_id_type=rec.query["receive_id_type"][0],
                receive_id=body["receive_id"],
                msg_type=body["msg_type"],
                content=json.loads(body["content"]),
                uuid=uid,
            )
            self.messages.append(message)
        self._route("PATCH", f"{MESSAGES_PATH}/{message.message_id}", self._patcher(message))
        return Reply(200, {"code": 0, "msg": "success", "data": _data(message)})

    def _batch_send(self, rec: Recorded) -> Reply:
        """批量发送消息: one message per open_id (not patchable), the refused ids answered."""
        if not self._authorized(rec):
            return Reply(400, INVALID_TOKEN)
        body = rec.json()
        open_ids = body.get("open_ids") or []
        if not 0 < len(open_ids) <= BATCH_MAX or not isinstance(body.get("content"), dict):
            return Reply(400, {"code": 10003, "msg": "Invalid parameter."})
        with self._lock:
            batch_id = f"bm-{next(self._ids)}"
            invalid = [i for i in open_ids if i in self.invalid_open_ids]
            for open_id in open_ids:
                if open_id not in invalid:
                    self.messages.append(
                        SentMessage(batch_id, "open_id", open_id, body["msg_type"],
                                    body["content"], None)
                    )  # fmt: skip
        data = {"message_id": batch_id, "invalid_open_ids": invalid}
        return Reply(200, {"code": 0, "msg": "success", "data": data})

    def _patcher(self, message: SentMessage) -> Any:
        def patch(rec: Recorded) -> Reply:
            if not self._authorized(rec):
                return Reply(400, INVALID_TOKEN)
            if message.msg_type != "interactive":
                return Reply(400, {"code": 230001, "msg": "message is not a card"})
            with self._lock:
                message.patches.append(json.loads(rec.json()["content"]))
            return Reply(200, {"code": 0, "msg": "success", "data": {}})

        return patch

    def _upload(self, rec: Recorded) -> Reply:
        if not self._authorized(rec):
            return Reply(400, INVALID_TOKEN)
        if b'name="image_type"' not in rec.body or b'name="image"' not in rec.body:
            return Reply(400, {"code": 234001, "msg": "Invalid request param."})
        with self._lock:
            self.uploads.append(rec)
            key = f"img_v2_{next(self._ids)}"
            self.images[key] = rec.body
        return Reply(200, {"code": 0, "msg": "success", "data": {"image_key": key}})


def _data(message: SentMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "msg_type": message.msg_type,
        "chat_id": "oc_p2p" if message.receive_id_type == "open_id" else message.receive_id,
    }


# -- inbound ------------------------------------------------------------------------------------


def encrypt(encrypt_key: str, plaintext: bytes) -> str:
    """Feishu's event encryption: base64(iv ‖ AES-256-CBC(SHA256(key), PKCS#7(plaintext)))."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def sign(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature as Feishu computes it."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def _json_bytes(payload: Any) -> bytes:
    """UTF-8 JSON as Feishu sends it; a lone surrogate (which UTF-8 cannot carry) goes out as
    its `\\ud800` escape, as any JSON encoder would write it."""
    try:
        return json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(payload).encode()


class FeishuEvents:
    """Posts events to /feishu/events the way Feishu does (encrypted and signed by default)."""

    def __init__(self, client: Any, clock: Any, *, token: str, encrypt_key: str, app_id: str):
        self.client = client
        self.clock = clock
        self.token = token
        self.encrypt_key = encrypt_key
        self.app_id = app_id
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        """A fresh id such as `ev_7`."""
        return f"{prefix}{next(self._ids)}"

    def post(
        self,
        payload: dict[str, Any],
        *,
        encrypted: bool = True,
        signed: bool = True,
        timestamp: str | None = None,
        signature: str | None = None,
        raw: bytes | None = None,
    ) -> Any:
        """POST one callback; returns the Flask test response."""
        if raw is None:
            plaintext = _json_bytes(payload)
            raw = (
                json.dumps({"encrypt": encrypt(self.encrypt_key, plaintext)}).encode()
                if encrypted
                else plaintext
            )
        headers = {}
        if signed:
            ts = timestamp or str(int(self.clock.now().timestamp()))
            nonce = self.next_id("nonce")
            headers = {
                "X-Lark-Request-Timestamp": ts,
                "X-Lark-Request-Nonce": nonce,
                "X-Lark-Signature": signature or sign(ts, nonce, self.encrypt_key, raw),
            }
        return self.client.post(
            "/feishu/events", data=raw, headers=headers, content_type="application/json"
        )

    def envelope(
        self, event_type: str, event: dict[str, Any], *, event_id: str | None = None
    ) -> dict[str, Any]:
        """A schema 2.0 event with our verification token."""
        return {
            "schema": "2.0",
            "header": {
                "event_id": event_id or self.next_id("ev_"),
                "token": self.token,
                "create_time": str(int(self.clock.now().timestamp() * 1000)),
                "event_type": event_type,
                "tenant_key": "tenant-1",
                "app_id": self.app_id,
            },
            "event": event,
        }

    def challenge(self, challenge: str = "ch-123", *, token: str | None = None, **kw: Any) -> Any:
        """The URL verification request (no signature headers)."""
        body = {"challenge": challenge, "token": token or self.token, "type": "url_verification"}
        return self.post(body, signed=False, **kw)

    def message(
        self,
        open_id: str,
        message_type: str,
        content: dict[str, Any],
        *,
        message_id: str | None = None,
        event_id: str | None = None,
        chat_type: str = "p2p",
        chat_id: str = "oc_p2p",
        **kw: Any,
    ) -> Any:
        """An im.message.receive_v1 event from a user."""
        event = {
            "sender": {
                "sender_id": {"open_id": open_id, "user_id": "", "union_id": "on_" + open_id},
                "sender_type": "user",
                "tenant_key": "tenant-1",
            },
            "message": {
                "message_id": message_id or self.next_id("om_in_"),
                "create_time": str(int(self.clock.now().timestamp() * 1000)),
                "chat_id": chat_id,
                "chat_type": chat_type,
                "message_type": message_type,
                "content": json.dumps(content, ensure_ascii=False),
            },
        }
        return self.post(self.envelope("im.message.receive_v1", event, event_id=event_id), **kw)

    def text(self, open_id: str, text: str, **kw: Any) -> Any:
        """A text message."""
        return self.message(open_id, "text", {"text": text}, **kw)

    def image(self, open_id: str, image_key: str, message_id: str, **kw: Any) -> Any:
        """An image message (the fake must serve the resource)."""
        return self.message(open_id, "image", {"image_key": image_key}, message_id=message_id, **kw)

    def click(
        self,
        open_id: str,
        value: Any,
        message_id: str,
        *,
        event_id: str | None = None,
        **kw: Any,
    ) -> Any:
        """A card.action.trigger callback for a button whose callback value is `value`."""
        event = {
            "operator": {"tenant_key": "tenant-1", "open_id": open_id, "union_id": ""},
            "token": self.next_id("c-"),
            "action": {"value": value, "tag": "button"},
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": "oc_p2p"},
        }
        return self.post(self.envelope("card.action.trigger", event, event_id=event_id), **kw)

    def press(self, open_id: str, card: SentMessage, label_prefix: str, **kw: Any) -> Any:
        """Tap the button of `card` (as currently shown) whose label starts with `label_prefix`."""
        return self.click(open_id, button_value(card.current, label_prefix), card.message_id, **kw)


def button_value(card_json: dict[str, Any], label_prefix: str) -> dict[str, Any]:
    """The callback value of the first button whose label starts with `label_prefix`."""
    labels = []
    for element in card_json["body"]["elements"]:
        for column in element.get("columns", []):
            for button in column.get("elements", []):
                if button.get("tag") != "button":
                    continue
                label = button["text"]["content"]
                labels.append(label)
                if label.startswith(label_prefix):
                    return button["behaviors"][0]["value"]
    raise AssertionError(f"no button {label_prefix!r} on card: {labels}")
