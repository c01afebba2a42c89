"""Feishu inbound: events and card clicks at POST /feishu/events.

We verify and decrypt ourselves (hashlib + cryptography) instead of using lark-oapi's
EventDispatcherHandler: importing lark_oapi takes ~3 s, and the dispatcher answers 500 to a bad
signature, missing headers, an unregistered event type or a handler error, has no replay window
and runs handlers inside the request (platforms.md §5). Our contract is design §11: bad or
missing signature, bad token or stale timestamp 403 with no detail, malformed 400 (however
deeply nested or oddly encoded), unknown event 200, never 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify, request

from adapters.common.inbound import plain, read_body, within_window
from adapters.feishu.api import REF_PART
from bot.db import session_scope
from bot.ports import Event, EventKind
from bot.services.inbound import accept_inbound
from bot.services.people import find_sender
from bot.signing import ANYONE, NOT_YOUR_BUTTON, ActionRefused

if TYPE_CHECKING:
    from bot.state import BotState


REPLAY_WINDOW = 300  # design §11: Feishu timestamps ±5 min
CARD_ACK = {"toast": {"type": "info", "content": "已收到，处理中"}}
_MENTION = re.compile(r"@_user_\d+")
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


class FeishuInbound:
    """The event route of one Feishu custom app (自建应用)."""

    platform = "feishu"

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.state = state
        self._verification_token = cfg["FEISHU_VERIFICATION_TOKEN"]
        self._encrypt_key = cfg.get("FEISHU_ENCRYPT_KEY") or ""

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
        # A database outage propagates: the app answers it 503 on every route (bot/app.py),
        # and Feishu delivers the event again later.
        if accept_inbound(self.state.engine, event):
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
            if not REF_PART.match(message_id) or not REF_PART.match(image_key):
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
        if action.actor_id == ANYONE:
            return None  # a shared card: the worker finds the presser's own ask
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
            if isinstance(message_id, str) and REF_PART.match(message_id)
            else None,
        )
        # The real card update comes later from the worker (PATCH); answer within 3 s.
        return event, CARD_ACK
