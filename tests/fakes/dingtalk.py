"""A fake DingTalk (v1.0 API + old oapi) on the recording FakeServer, and inbound builders that
sign robot/card callbacks and encrypt event-subscription bodies the way DingTalk does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from tests.fakes.server import FakeServer, Recorded, Reply

APP_KEY = "dingtestappkey"
APP_SECRET = "dingtest-app-secret-0123456789"
ROBOT_CODE = "dingtestappkey"
TOKEN = "dingtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters

BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
BATCH_SEND_MAX = 20  # what the adapter assumes per call; the fake refuses more
GROUP_SEND = "/v1.0/robot/groupMessages/send"
CARD_SEND = "/v1.0/im/v1.0/robot/interactiveCards/send"
CARD_UPDATE = "/v1.0/im/robots/interactiveCards"
TEMPLATE_CREATE = "/v1.0/card/instances/createAndDeliver"
TEMPLATE_UPDATE = "/v1.0/card/instances"
FILE_DOWNLOAD = "/v1.0/robot/messageFiles/download"
ACCESS_TOKEN = "/v1.0/oauth2/accessToken"


class FakeDingtalk:
    """The far end: issues tokens, records sends, serves downloadable files.

    `fail(path, status, times, body)` makes the next calls on a path (a v1.0 path, `/media/upload`
    or `/robot/sendBySession`) answer an error;
    `expire_tokens()` makes every issued token invalid (the next call gets 401). A card created
    again under the same id (cardBizId / outTrackId) is answered but not delivered again.
    """

    def __init__(self) -> None:
        self.server = FakeServer()
        self.valid_tokens: set[str] = set()
        self.issued: list[str] = []
        self._failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._ids = itertools.count(1)
        self.files: dict[str, bytes] = {}
        self.uploads: dict[str, bytes] = {}  # media_id → the multipart body that uploaded it
        self.delivered: list[tuple[str, dict[str, Any]]] = []  # (path, body) answered 200
        self._created: set[str] = set()  # card ids already created (a repeat is a no-op)
        self.oapi_token = "oapitok1"
        r = self.server.route
        r("POST", ACCESS_TOKEN, self._access_token)
        for method, path in (
            ("POST", BATCH_SEND),
            ("POST", GROUP_SEND),
            ("POST", CARD_SEND),
            ("PUT", CARD_UPDATE),
            ("POST", TEMPLATE_CREATE),
            ("PUT", TEMPLATE_UPDATE),
            ("POST", FILE_DOWNLOAD),
        ):
            r(method, path, self._authed(path))
        r("GET", "/gettoken", self._oapi_token)
        r("POST", "/media/upload", self._media_upload)
        r("POST", "/robot/sendBySession", self._session_webhook)

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the fake (both API bases point here)."""
        return self.server.url

    def start(self) -> FakeDingtalk:
        """Serve in a daemon thread."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Shut down; fails on unknown paths."""
        self.server.stop()

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for the app pointing at this fake."""
        return {
            "DINGTALK_APP_KEY": APP_KEY,
            "DINGTALK_APP_SECRET": APP_SECRET,
            "DINGTALK_ROBOT_CODE": ROBOT_CODE,
            "DINGTALK_API_BASE": self.url,
            "DINGTALK_OAPI_BASE": self.url,
            **extra,
        }

    # -- behaviour switches --------------------------------------------------------------------

    def fail(
        self, path: str, status: int = 500, times: int = 1, body: dict[str, Any] | None = None
    ) -> None:
        """The next `times` calls on `path` answer `status` with `body` (default: a v1.0 error)."""
        answer = (
            body if body is not None else {"code": "ServiceUnavailable", "message": "try later"}
        )
        self._failures.setdefault(path, []).extend([(status, answer)] * times)

    def _failure(self, path: str) -> Reply | None:
        failures = self._failures.get(path)
        if not failures:
            return None
        status, body = failures.pop(0)
        return Reply(status, body)

    def expire_tokens(self) -> None:
        """Invalidate every issued access token (DingTalk expired them early)."""
        self.valid_tokens.clear()

    def expire_oapi_token(self) -> None:
        """The old-style oapi token expires: uploads with it get errcode 40014."""
        self.oapi_token = f"oapitok{next(self._ids)}"

    def add_file(self, code: str, data: bytes) -> None:
        """Make a downloadCode resolve to a file URL served by the fake."""
        self.files[code] = data
        self.server.route(
            "GET",
            f"/files/{code}",
            lambda _rec: Reply(raw=data, headers={"Content-Type": "image/jpeg"}),
        )

    # -- routes --------------------------------------------------------------------------------

    def _access_token(self, rec: Recorded) -> Reply:
        body = rec.json()
        if body != {"appKey": APP_KEY, "appSecret": APP_SECRET}:
            return Reply(400, {"code": "invalidClientIdOrSecret", "message": "bad app"})
        token = f"tok{next(self._ids)}"
        self.valid_tokens.add(token)
        self.issued.append(token)
        return Reply(200, {"accessToken": token, "expireIn": 7200})

    def _authed(self, path: str) -> Callable[[Recorded], Reply]:
        def handle(rec: Recorded) -> Reply:
            failure = self._failure(path)
            if failure is not None:
                return failure
            token = {k.lower(): v for k, v in rec.headers.items()}.get(
                "x-acs-dingtalk-access-token"
            )
            if token not in self.valid_tokens:
                return Reply(401, {"code": "InvalidAuthentication", "message": "token expired"})
            body = rec.json()
            if path == BATCH_SEND and not 0 < len(body.get("userIds") or []) <= BATCH_SEND_MAX:
                return Reply(400, {"code": "invalidParameter", "message": "fake: userIds"})
            card_id = body.get("cardBizId") or body.get("outTrackId")
            if path in (CARD_SEND, TEMPLATE_CREATE):
                # "同一个outTrackId重复创建，卡片数据不覆盖更新": a second create changes nothing.
                if card_id in self._created:
                    return Reply(200, self._answer(path, rec))
                self._created.add(card_id)
            self.delivered.append((path, body))
            return Reply(200, self._answer(path, rec))

        return handle

    def _answer(self, path: str, rec: Recorded) -> dict[str, Any]:
        if path == FILE_DOWNLOAD:
            return {"downloadUrl": f"{self.url}/files/{rec.json()['downloadCode']}"}
        if path in (CARD_UPDATE, TEMPLATE_UPDATE):
            return {"success": True, "result": True}
        if path == TEMPLATE_CREATE:
            return {"success": True, "result": {"outTrackId": rec.json()["outTrackId"]}}
        return {"processQueryKey": f"pqk{next(self._ids)}"}

    def _oapi_token(self, rec: Recorded) -> Reply:
        if rec.query.get("appkey") != [APP_KEY] or rec.query.get("appsecret") != [APP_SECRET]:
            return Reply(200, {"errcode": 40089, "errmsg": "invalid appkey"})
        return Reply(200, {"errcode": 0, "access_token": self.oapi_token, "expires_in": 7200})

    def _media_upload(self, rec: Recorded) -> Reply:
        failure = self._failure("/media/upload")
        if failure is not None:
            return failure
        if rec.query.get("access_token") != [self.oapi_token] or b"filename=" not in rec.body:
            return Reply(200, {"errcode": 40014, "errmsg": "invalid token"})
        media_id = f"@lADmedia{next(self._ids)}"
        self.uploads[media_id] = rec.body
        return Reply(200, {"errcode": 0, "media_id": media_id, "type": "image"})

    def _session_webhook(self, rec: Recorded) -> Reply:
        failure = self._failure("/robot/sendBySession")
        if failure is not None:
            return failure
        self.delivered.append(("/robot/sendBySession", rec.json()))
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    # -- what the fake received ----------------------------------------------------------------

    def texts_to(self, user_id: str) -> list[str]:
        """Texts batchSent to one user, oldest first."""
        return [
            json.loads(body["msgParam"])["content"]
            for path, body in self.delivered
            if path == BATCH_SEND and user_id in body["userIds"]
        ]

    def cards_to(self, user_id: str) -> list[dict[str, Any]]:
        """Robot interactive cards sent 1:1 to a user: {cardBizId, cardData (parsed), …}."""
        out = []
        for path, body in self.delivered:
            if path != CARD_SEND:
                continue
            receiver = json.loads(body.get("singleChatReceiver") or "{}")
            if receiver.get("userId") == user_id:
                out.append({**body, "cardData": json.loads(body["cardData"])})
        return out

    def card_updates(self, card_biz_id: str) -> list[dict[str, Any]]:
        """cardData (parsed) of every update PUT for one card, oldest first."""
        return [
            json.loads(body["cardData"])
            for path, body in self.delivered
            if path == CARD_UPDATE and body["cardBizId"] == card_biz_id
        ]


# -- reading rendered cards ----------------------------------------------------------------------


def card_title(card_data: dict[str, Any]) -> str:
    """The header title of a StandardCard."""
    return card_data["header"]["title"]["text"]


def card_texts(card_data: dict[str, Any]) -> list[str]:
    """Every text/markdown line of a StandardCard."""
    return [c["text"] for c in card_data["contents"] if c["type"] in ("text", "markdown")]


def card_buttons(card_data: dict[str, Any]) -> dict[str, str]:
    """label → signed value of a StandardCard's buttons."""
    out = {}
    for c in card_data["contents"]:
        if c["type"] == "action":
            for b in c["actions"]:
                out[b["label"]["text"]] = b["params"]["value"]
    return out


def button_value(card_data: dict[str, Any], label_prefix: str) -> str:
    """The value of the button whose label starts with `label_prefix`."""
    for label, value in card_buttons(card_data).items():
        if label.startswith(label_prefix):
            return value
    raise AssertionError(f"no button {label_prefix!r}: {list(card_buttons(card_data))}")


# -- inbound, built the way DingTalk builds it ---------------------------------------------------


def sign_headers(now: datetime, secret: str = APP_SECRET, *, skew_ms: int = 0) -> dict[str, str]:
    """Headers `timestamp` (ms) and `sign` = base64(HMAC-SHA256(secret, ts + "\\n" + secret))."""
    timestamp = str(int(now.timestamp() * 1000) + skew_ms)
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return {"timestamp": timestamp, "sign": base64.b64encode(digest).decode()}


_msg_ids = itertools.count(1)


def robot_message(
    sender: str,
    *,
    text: str | None = None,
    download_code: str | None = None,
    msg_id: str | None = None,
    group: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A robot callback body (text, or picture with a downloadCode), 1:1 unless `group`."""
    created = int(now.timestamp() * 1000) if now else 0
    body: dict[str, Any] = {
        "msgId": msg_id or f"msg{next(_msg_ids)}",
        "createAt": created,
        "conversationType": "2" if group else "1",
        "conversationId": group or f"cid-single-{sender}",
        "senderStaffId": sender,
        "senderId": f"$:LWCP_v1:${sender}",
        "senderNick": "测试",
        "robotCode": ROBOT_CODE,
        "chatbotCorpId": "dingcorp",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=x",
        "sessionWebhookExpiredTime": created + 90 * 60 * 1000,
    }
    if download_code is not None:
        body["msgtype"] = "picture"
        body["content"] = {"downloadCode": download_code, "pictureDownloadCode": "legacy"}
    else:
        body["msgtype"] = "text"
        body["text"] = {"content": f" {text}"}
    return body


def post_robot(client: Any, now: datetime, body: dict[str, Any], **sign: Any) -> Any:
    """POST a signed robot callback."""
    return client.post("/dingtalk/robot", json=body, headers=sign_headers(now, **sign))


def card_click(out_track_id: str, user_id: str, value: str) -> dict[str, Any]:
    """A card callback body shaped like the Stream CardCallbackMessage (design §11)."""
    content = json.dumps(
        {"cardPrivateData": {"actionIds": ["button_0"], "params": {"value": value}}}
    )
    return {
        "extension": "{}",
        "corpId": "dingcorp",
        "spaceType": "IM",
        "userIdType": 1,
        "type": "actionCallback",
        "userId": user_id,
        "content": content,
        "spaceId": "",
        "outTrackId": out_track_id,
        "value": content,
    }


def post_card(client: Any, now: datetime, body: dict[str, Any], **sign: Any) -> Any:
    """POST a signed card callback."""
    return client.post("/dingtalk/card", json=body, headers=sign_headers(now, **sign))


def encrypted_event(
    payload: dict[str, Any] | bytes,
    now: datetime,
    *,
    token: str = TOKEN,
    nonce: str = "nonce123",
) -> tuple[str, dict[str, str]]:
    """(query string, body) of an event-subscription POST, encrypted and signed as DingTalk does.

    `payload` is a dict (sent as JSON) or raw plaintext bytes (for malformed events).
    """
    from dingtalk.crypto import DingTalkCrypto

    crypto = DingTalkCrypto(token, AES_KEY, APP_KEY)
    timestamp = str(int(now.timestamp() * 1000))
    plaintext = payload if isinstance(payload, bytes) else json.dumps(payload)
    sealed = crypto.encrypt_message(plaintext, nonce=nonce, timestamp=timestamp)
    query = urlencode(
        {"signature": sealed["msg_signature"], "timestamp": timestamp, "nonce": nonce}
    )
    return query, {"encrypt": sealed["encrypt"]}


def event_query(encrypt: str, now: datetime, *, token: str = TOKEN, nonce: str = "n1") -> str:
    """The query string signing an event POST whose body carries `encrypt` (any string):
    signature = sha1 of token, timestamp, nonce and encrypt, sorted and joined."""
    timestamp = str(int(now.timestamp() * 1000))
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    signature = hashlib.sha1(joined.encode()).hexdigest()
    return urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce})


def decrypt_answer(answer: dict[str, Any]) -> str:
    """Check and decrypt the route's encrypted answer (what DingTalk does with it)."""
    from dingtalk.crypto import DingTalkCrypto

    crypto = DingTalkCrypto(TOKEN, AES_KEY, APP_KEY)
    return crypto.decrypt_message(
        {"encrypt": answer["encrypt"]},
        answer["msg_signature"],
        answer["timeStamp"],
        answer["nonce"],
    )
