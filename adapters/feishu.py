"""The `feishu` platform (飞书): event callback at POST /feishu/events, Open API for sending.

Inbound we verify and decrypt ourselves (hashlib + cryptography) instead of using lark-oapi's
EventDispatcherHandler: importing lark_oapi takes ~3 s, and the dispatcher answers 500 to a bad
signature, missing headers, an unregistered event type or a handler error, has no replay window
and runs handlers inside the request (platforms.md §5). Our contract is design §11: bad or
missing signature, bad token or stale timestamp 403 with no detail, malformed 400 (however
deeply nested or oddly encoded), unknown event 200, never 500.

Outbound uses the plain REST endpoints with `requests` and the shared DB TokenCache: explicit
timeouts, rate limits (HTTP 429, or 400 with code 99991400; the per-recipient send limit 230020)
retried after `x-ogw-ratelimit-reset`, one refetch when Feishu says the token is invalid, and
no process-global token cache keyed by app_id (lark-oapi's TokenManager). lark_oapi is therefore
never imported by this adapter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from adapters.common.images import unless_image_refused
from adapters.common.inbound import plain, read_body, within_window
from adapters.common.session import ApiSession
from bot.db import session_scope
from bot.ports import DeliveryError, Event, EventKind, MediaLoader, Recipient, SendResult
from bot.runtime.tokens import TokenCache
from bot.services.evidence import MAX_BYTES as MAX_PHOTO_BYTES
from bot.services.inbound import accept_inbound
from bot.services.people import find_sender
from bot.signing import NOT_YOUR_BUTTON, ActionRefused
from cards import Card, Message
from cards.feishu import render

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

REPLAY_WINDOW = 300  # design §11: Feishu timestamps ±5 min
TIMEOUT = (3.05, 10)
UPLOAD_TIMEOUT = (3.05, 30)
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
IMAGES_PATH = "/open-apis/im/v1/images"
# 99991400: the gateway's per-API limit (HTTP 429, or 400 on some old APIs; platforms.md §5).
# 230020: im/v1/messages' own limit of 5 QPS per user and per group chat. The limit is in
# Feishu's send-message doc; the code comes from the FAQ's error table (a mirror, not the
# official page), so it is treated as "wait and retry", which is harmless if it means more.
RATE_LIMITED = {99991400, 230020}
MAX_RETRY_AFTER = 3600.0  # a reset header beyond an hour is not believed
TOKEN_INVALID = {99991661, 99991663, 99991668}
MAX_UUID = 50  # Feishu `uuid` (send idempotency) is at most 50 characters
CARD_ACK = {"toast": {"type": "info", "content": "已收到，处理中"}}
_MENTION = re.compile(r"@_user_\d+")
_REF_PART = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")
# Ids Feishu issues (event_id, open_id, chat_id) and signed button values: no control characters
# (NUL cannot be stored in a PostgreSQL text column) and no lone surrogates (not UTF-8).
_IDENT = re.compile(r"^[^\x00-\x1f\x7f\ud800-\udfff]+$")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _Refused(Exception):
    """Stop handling a callback and answer `status` with no body detail."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _json_object(raw: Any) -> dict[str, Any]:
    """A JSON object from a body or an embedded JSON string. Raises _Refused(400)."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        # ValueError covers bad UTF-8; RecursionError is `[[[[…` nested beyond the parser's
        # limit; TypeError a non-string where Feishu puts a JSON string (message content).
        raise _Refused(400) from None
    if not isinstance(data, dict):
        raise _Refused(400)
    return data


def _ident(value: Any, limit: int = 200) -> str:
    """A printable id string of at most `limit` characters. Raises _Refused(400)."""
    if not isinstance(value, str) or len(value) > limit or not _IDENT.match(value):
        raise _Refused(400)
    return value


def _storable(text: str) -> str:
    """User text without what the database cannot store: NUL is dropped, a lone surrogate
    becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def decrypt(encrypt_key: str, encrypted: str) -> bytes:
    """Feishu's event encryption: AES-256-CBC, key = SHA256(encrypt_key), base64(iv ‖ ct), PKCS#7.

    Raises:
        ValueError: not base64, wrong length or bad padding.
    """
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    blob = base64.b64decode(encrypted, validate=True)
    if len(blob) < 32 or len(blob) % 16:
        raise ValueError("bad ciphertext length")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(blob[:16])).decryptor()
    padded = decryptor.update(blob[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature: sha256 hex of timestamp + nonce + encrypt_key + raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


class FeishuAdapter:
    """Feishu custom app (自建应用): events in, messages and card updates out."""

    platform = "feishu"

    def __init__(self, state: BotState):
        config = state.config.platform("feishu")
        assert config is not None, "feishu adapter built without FEISHU_* settings"
        self.state = state
        self.app_id = config["FEISHU_APP_ID"]
        self._app_secret = config["FEISHU_APP_SECRET"]
        self._verification_token = config["FEISHU_VERIFICATION_TOKEN"]
        self._encrypt_key = config.get("FEISHU_ENCRYPT_KEY") or ""
        self.domain = (config.get("FEISHU_DOMAIN") or "https://open.feishu.cn").rstrip("/")
        self._tokens = TokenCache(state.session_factory, state.clock)
        self._token_key = f"feishu:tenant_token:{self.app_id}"
        self._http = ApiSession()

    # -- inbound -------------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        """POST /feishu/events: challenge, messages and card clicks."""
        bp = Blueprint("feishu", __name__, url_prefix="/feishu")
        bp.add_url_rule("/events", view_func=self.events, methods=["POST"])
        return bp

    def events(self) -> Any:
        """Verify, decrypt, dedupe, record, wake the worker, answer (Feishu allows 3 s)."""
        raw = read_body()  # 413 over 1 MB
        try:
            data = self._open(raw)
            if data.get("type") == "url_verification":
                challenge = data.get("challenge")
                if not isinstance(challenge, str):
                    raise _Refused(400)
                return jsonify(challenge=challenge)
            return self._dispatch(data)
        except _Refused as refused:
            return plain(refused.status)
        except (KeyError, TypeError, ValueError, AttributeError):
            # A verified sender with a body we cannot read: malformed, never 500.
            return plain(400)

    def _open(self, raw: bytes) -> dict[str, Any]:
        """The verified plaintext event. Raises _Refused(403/400)."""
        data = _json_object(raw)
        sig = request.headers.get("X-Lark-Signature")
        if self._encrypt_key and sig is not None:
            timestamp = request.headers.get("X-Lark-Request-Timestamp", "")
            nonce = request.headers.get("X-Lark-Request-Nonce", "")
            expected = signature(timestamp, nonce, self._encrypt_key, raw)
            # Header values are latin-1 text; compare bytes so odd characters are just a mismatch.
            if not hmac.compare_digest(expected.encode(), sig.encode("latin-1", "replace")):
                raise _Refused(403)
            try:
                fresh = within_window(float(timestamp), self.state.clock.now(), REPLAY_WINDOW)
            except ValueError:
                fresh = False
            if not fresh:
                raise _Refused(403)
        if "encrypt" in data:
            if not self._encrypt_key or not isinstance(data["encrypt"], str):
                raise _Refused(400)
            try:
                data = _json_object(decrypt(self._encrypt_key, data["encrypt"]))
            except ValueError:
                raise _Refused(400) from None
        if data.get("type") == "url_verification":
            # The challenge carries no signature headers; the token (and decryption) suffice.
            self._check_token(data.get("token"))
            return data
        if self._encrypt_key and sig is None:
            raise _Refused(403)
        header = data.get("header")
        token = header.get("token") if isinstance(header, dict) else data.get("token")
        self._check_token(token)
        return data

    def _check_token(self, token: Any) -> None:
        # surrogatepass: a token with a lone surrogate is a mismatch, not an encoding error.
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), self._verification_token.encode()
        ):
            raise _Refused(403)

    def _dispatch(self, data: dict[str, Any]) -> Any:
        header = data.get("header")
        if data.get("schema") != "2.0" or not isinstance(header, dict):
            return jsonify({})  # v1 events are not subscribed: acknowledge and ignore
        parse = {
            "im.message.receive_v1": self._message_event,
            "card.action.trigger": self._card_event,
        }.get(header.get("event_type"))
        if parse is None:
            return jsonify({})  # design §11: unknown event type → 200, ignored
        # Feishu's event ids are 32 hex digits; the dedupe key must not be cut short.
        event_id = _ident(header.get("event_id"), limit=128)
        event, answer = parse(f"evt:{event_id}", data["event"])
        if event is not None:
            self._record(event)
        return jsonify(answer)

    def _record(self, event: Event) -> None:
        try:
            fresh = accept_inbound(self.state.engine, event)
        except SQLAlchemyError:
            # Not the sender's fault: 503 makes Feishu deliver it again later.
            log.exception("feishu: could not record %s", event.dedupe_key[:60])
            raise _Refused(503) from None
        if fresh:
            self.state.notify_worker()

    def _message_event(self, key: str, body: dict[str, Any]) -> tuple[Event | None, dict]:
        sender = body["sender"]
        if sender.get("sender_type", "user") != "user":
            return None, {}
        open_id = _ident(sender["sender_id"]["open_id"])
        message = body["message"]
        content = _json_object(message["content"])
        group = message.get("chat_type") == "group"
        chat_id = _ident(message.get("chat_id")) if group else None
        common = {
            "platform": self.platform,
            "sender_id": open_id,
            "dedupe_key": key,
            "received_at": self.state.clock.now(),
            "chat_id": chat_id,
            # In a group the bot answers in the group; 1:1 replies go to the sender's open_id.
            "reply_to": {"chat_id": chat_id} if chat_id else None,
        }
        if message["message_type"] == "image":
            message_id, image_key = message["message_id"], content["image_key"]
            if not _REF_PART.match(message_id) or not _REF_PART.match(image_key):
                raise _Refused(400)
            return Event(kind=EventKind.IMAGE, media_ref=f"{message_id}/{image_key}", **common), {}
        text = content.get("text") if message["message_type"] == "text" else ""
        text = _MENTION.sub("", _storable(text) if isinstance(text, str) else "").strip()[:1000]
        # Other message types (files, stickers, …) arrive as empty text: the help card answers.
        return Event(kind=EventKind.TEXT, text=text, **common), {}

    def _refusal(self, open_id: str, signed: str) -> str | None:
        """NOT_YOUR_BUTTON when the button names another employee than the presser, else None.

        One signature check and one indexed read, within the 3 s answer. Tampered or expired
        values go on to the worker, which answers them in the chat as on every platform.
        """
        try:
            action = self.state.signer.verify(signed, self.state.clock.now())
        except ActionRefused:
            return None
        with session_scope(self.state.session_factory) as session:
            presser = find_sender(session, self.platform, open_id)
            presser_id = presser.id if presser is not None else None
        return NOT_YOUR_BUTTON if presser_id != action.actor_id else None

    def _card_event(self, key: str, body: dict[str, Any]) -> tuple[Event | None, dict]:
        open_id = _ident(body["operator"]["open_id"])
        value = body["action"]["value"]
        signed = _ident(value.get("v") if isinstance(value, dict) else value, limit=1024)
        refusal = self._refusal(open_id, signed)
        if refusal is not None:
            # design §6: a click by anyone else is refused with a clear toast, on the spot.
            return None, {"toast": {"type": "error", "content": refusal}}
        context = body.get("context") or {}
        message_id = context.get("open_message_id")
        event = Event(
            platform=self.platform,
            kind=EventKind.CARD_ACTION,
            sender_id=open_id,
            dedupe_key=key,
            received_at=self.state.clock.now(),
            action_value=signed,
            card_ref={"message_id": message_id}
            if isinstance(message_id, str) and _REF_PART.match(message_id)
            else None,
        )
        # The real card update comes later from the worker (PATCH); answer within 3 s.
        return event, CARD_ACK

    # -- outbound ------------------------------------------------------------------------------

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """One platform message per send."""
        return 1  # the photo is part of the card

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """POST /im/v1/messages to a chat or an open_id; `uuid` makes a retried send land once."""
        if recipient.chat_id:
            id_type, receive_id = "chat_id", recipient.chat_id
        elif recipient.user_id:
            id_type, receive_id = "open_id", recipient.user_id
        else:
            raise DeliveryError("feishu: no open_id or chat_id", retryable=False)
        ref: dict[str, Any] = {}
        image_key = None
        if isinstance(message, Card) and message.image:
            image_key = self._upload(message.image, media)
            if image_key:
                ref.update(image_ref=message.image, image_key=image_key)
        msg_type, content = render(message, image_key=image_key)
        data = self._call(
            "POST",
            MESSAGES_PATH,
            params={"receive_id_type": id_type},
            json_body={
                "receive_id": receive_id,
                "msg_type": msg_type,
                "content": json.dumps(content, ensure_ascii=False),
                "uuid": idempotency_key[:MAX_UUID],
            },
        )
        message_id = data.get("message_id")
        if not isinstance(message_id, str):
            raise DeliveryError("feishu: send answered without message_id", retryable=False)
        return SendResult({"message_id": message_id, **ref})

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """PATCH the delivered card message with the new version (works for 14 days)."""
        message_id = external_ref.get("message_id")
        if not isinstance(message_id, str) or not _REF_PART.match(message_id):
            raise DeliveryError("feishu: card copy has no message_id", retryable=False)
        new_ref = None
        image_key = None
        if card.image:
            if external_ref.get("image_ref") == card.image:
                image_key = external_ref.get("image_key")  # uploaded with the first send
            else:
                image_key = self._upload(card.image, media)
                if image_key:
                    new_ref = {**external_ref, "image_ref": card.image, "image_key": image_key}
        _, content = render(card, image_key=image_key)
        self._call(
            "PATCH",
            f"{MESSAGES_PATH}/{message_id}",
            json_body={"content": json.dumps(content, ensure_ascii=False)},
        )
        return new_ref

    def download_image(self, media_ref: str) -> bytes:
        """GET the user's image from its message (im.v1.image.get only serves our own uploads)."""
        message_id, _, file_key = media_ref.partition("/")
        if not _REF_PART.match(message_id) or not _REF_PART.match(file_key):
            raise DeliveryError("feishu: bad media reference", retryable=False)
        path = f"{MESSAGES_PATH}/{quote(message_id)}/resources/{quote(file_key)}"
        return self._call("GET", path, params={"type": "image"}, binary=True)

    def _upload(self, ref: str, media: MediaLoader) -> str | None:
        """Upload an evidence photo; its image_key, or None when the card must go without it.

        A photo that is gone, or that Feishu refuses for good (e.g. 234011, a format it cannot
        read), must not keep the card from the supervisor: the claim still needs deciding.
        A retryable failure (rate limit, 5xx, timeout) raises, so the whole send is retried.
        """
        payload = media(ref)
        if payload is None:
            log.warning("feishu: card image %s not found; sending without it", ref)
            return None

        def upload() -> str:
            data = self._call(
                "POST",
                IMAGES_PATH,
                data={"image_type": "message"},
                files={"image": (payload.filename, payload.data, payload.mime_type)},
                timeout=UPLOAD_TIMEOUT,
            )
            image_key = data.get("image_key")
            if not isinstance(image_key, str) or not image_key:
                raise DeliveryError("feishu: upload answered without image_key", retryable=False)
            return image_key

        return unless_image_refused(
            upload, log, "feishu: card image %s refused (%s); sending without it", ref
        )

    def _tenant_token(self) -> str:
        return self._tokens.get(self._token_key, self._fetch_token)

    def _fetch_token(self) -> tuple[str, int]:
        try:
            resp = self._http.post(
                self.domain + TOKEN_PATH,
                json={"app_id": self.app_id, "app_secret": self._app_secret},
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise DeliveryError(f"feishu token: {type(exc).__name__}") from None
        body = _json_body(resp)
        code = _code(body)
        if resp.status_code == 429 or code in RATE_LIMITED:
            # Rate limited (HTTP 429, or 400 with 99991400): wait as long as Feishu says.
            raise DeliveryError("feishu token: rate limited", retry_after=_retry_after(resp))
        if resp.status_code >= 500 or body is None:
            raise DeliveryError(
                f"feishu token: HTTP {resp.status_code}", retry_after=_retry_after(resp)
            )
        token, expire = body.get("tenant_access_token"), body.get("expire")
        if code != 0 or not isinstance(token, str) or not token:
            raise DeliveryError(f"feishu token: code {code}", retryable=False)
        if not isinstance(expire, int) or isinstance(expire, bool) or expire <= 0:
            expire = 7200  # the documented lifetime when the answer omits it
        return token, expire

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
        binary: bool = False,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> Any:
        """One Open API call: `data` of the answer (or raw bytes with `binary`).

        Raises:
            DeliveryError: retryable on HTTP 429 or a rate-limit code (with retry_after from
            `x-ogw-ratelimit-reset`), 5xx, timeouts and a token rejected twice; not retryable
            for any other error code.
        """
        for attempt in (1, 2):
            token = self._tenant_token()
            content: bytes | None = None
            try:
                resp = self._http.request(
                    method,
                    self.domain + path,
                    params=params,
                    json=json_body,
                    data=data,
                    files=files,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=timeout,
                    stream=binary,
                )
                if binary and "json" not in resp.headers.get("Content-Type", ""):
                    # Read one byte past the evidence limit: the claim handler then refuses
                    # the photo with a clear message instead of us holding a huge body.
                    with resp:
                        content = resp.raw.read(MAX_PHOTO_BYTES + 1, decode_content=True)
            except requests.RequestException as exc:
                raise DeliveryError(f"feishu {path}: {type(exc).__name__}") from None
            body = _json_body(resp)
            code = _code(body)
            if resp.status_code == 429 or code in RATE_LIMITED:
                which = f" (code {code})" if code is not None else ""
                raise DeliveryError(
                    f"feishu {path}: rate limited{which}", retry_after=_retry_after(resp)
                )
            if code in TOKEN_INVALID:
                # Tokens can die before their expiry: forget it and retry once (platforms.md §5).
                self._tokens.invalidate(self._token_key)
                if attempt == 1:
                    continue
                raise DeliveryError(f"feishu {path}: token rejected twice")
            if resp.status_code >= 500:
                raise DeliveryError(f"feishu {path}: HTTP {resp.status_code} code {code}")
            if content is not None and resp.status_code == 200:
                return content
            if body is None or code != 0:
                message = str(body.get("msg", ""))[:120] if body else ""
                log.warning(
                    "feishu %s %s: HTTP %s code %s log_id %s",
                    method,
                    path,
                    resp.status_code,
                    code,
                    resp.headers.get("X-Tt-Logid", "-"),
                )
                raise DeliveryError(
                    f"feishu {path}: HTTP {resp.status_code} code {code} {message}",
                    retryable=False,
                )
            data = body.get("data")
            return data if isinstance(data, dict) else {}
        raise AssertionError("unreachable")


def _json_body(resp: requests.Response) -> dict[str, Any] | None:
    """The JSON object of an answer, or None for binary/non-JSON bodies."""
    if "json" not in resp.headers.get("Content-Type", ""):
        return None
    try:
        body = resp.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _code(body: dict[str, Any] | None) -> int | None:
    """Feishu's integer `code` of an answer, or None (absent, or not a number)."""
    code = body.get("code") if body is not None else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _retry_after(resp: requests.Response) -> float | None:
    """Seconds to wait from Feishu's x-ogw-ratelimit-reset header, if given."""
    try:
        value = float(resp.headers.get("x-ogw-ratelimit-reset", ""))
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    return min(value, MAX_RETRY_AFTER)
