"""DingTalk inbound (design §5, §11): `POST /dingtalk/robot` and `POST /dingtalk/card` carry
headers `timestamp` (ms) + `sign` = base64(HMAC-SHA256(app secret, timestamp + "\\n" + app
secret)), accepted within ±1 h; `POST /dingtalk/events` is the AES event subscription
(DingTalkCrypto), on only when DINGTALK_TOKEN and DINGTALK_AES_KEY are set.

That signature covers no body: a captured `timestamp`/`sign` pair would sign any body for the
whole hour. So every pair is remembered in the shared kv_cache until it leaves the window, with
the digests of the bodies it came with (see `_first_use`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify, request

from adapters.common.inbound import plain, read_body, within_window
from adapters.dingtalk.render import read_action_value
from bot.db import session_scope
from bot.ports import Event, EventKind
from bot.services.inbound import accept_inbound
from bot.services.kv import cache_admit, cache_insert, cache_purge

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

REPLAY_WINDOW = 3600  # design §11: robot and card headers ±1 h
# Two genuine messages may be signed in the same millisecond, so the same pair may come with a
# different body, but only together: a replay comes later. Past this, a new body is refused.
PAIR_GRACE = timedelta(seconds=5)
# A pair is remembered a little past the window, so no clock skew between processes lets it in
# again as new once its row is purged.
PAIR_KEPT = timedelta(seconds=REPLAY_WINDOW + 60)
PAIR_PREFIX = "dingtalk:pair:"
PAIR_BODIES = 100  # distinct bodies one pair may sign inside the grace; bounds its kv row


def robot_signature(timestamp: str, secret: str) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)) [doc] (platforms.md §4)."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingtalkInbound:
    """The robot, card-callback and event-subscription routes of one DingTalk app."""

    platform = "dingtalk"

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.state = state
        self.app_key = cfg["DINGTALK_APP_KEY"]
        self.app_secret = cfg["DINGTALK_APP_SECRET"]
        self.corp_id = cfg.get("DINGTALK_CORP_ID") or None
        self.oapi = cfg["DINGTALK_OAPI_BASE"].rstrip("/")
        self.crypto = None
        if cfg.get("DINGTALK_TOKEN") and cfg.get("DINGTALK_AES_KEY"):
            from dingtalk.crypto import DingTalkCrypto

            self.crypto = DingTalkCrypto(
                cfg["DINGTALK_TOKEN"], cfg["DINGTALK_AES_KEY"], self.app_key
            )
        self._purged_minute = -1

    def blueprint(self) -> Blueprint:
        """The robot, card-callback and event-subscription routes."""
        bp = Blueprint("dingtalk", __name__, url_prefix="/dingtalk")
        bp.add_url_rule("/robot", view_func=self.robot, methods=["POST"])
        bp.add_url_rule("/card", view_func=self.card, methods=["POST"])
        bp.add_url_rule("/events", view_func=self.events, methods=["POST"])
        return bp

    def _signed(self, body: bytes) -> bool:
        """Header `timestamp` (ms, ±1 h of the clock) and `sign` match (design §11), and the
        pair is not a replay with another body."""
        timestamp = request.headers.get("timestamp", "")
        sign = request.headers.get("sign", "")
        if not _fresh(timestamp, self.state.clock.now()) or not sign:
            return False
        if not hmac.compare_digest(
            robot_signature(timestamp, self.app_secret).encode(), sign.encode()
        ):
            return False
        if not self._first_use(timestamp, sign, body):
            log.warning("dingtalk: a signature came back with another body: refused")
            return False
        return True

    def _first_use(self, timestamp: str, sign: str, body: bytes) -> bool:
        """Remember this pair with this body's digest; False for a replay with another body.

        The same body again is a re-delivery (admitted; the event dedupe drops it). Shared by
        every process through the database, kept until the pair is out of the window.
        """
        now = self.state.clock.now()
        pair = PAIR_PREFIX + hashlib.sha256(f"{timestamp}\n{sign}".encode()).hexdigest()[:40]
        digest = hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()[:32]
        expires = now + timedelta(milliseconds=int(timestamp) - now.timestamp() * 1000)
        minute = int(now.timestamp()) // 60
        if minute != self._purged_minute:  # a sweep of pairs out of the window, once a minute
            self._purged_minute = minute
            with session_scope(self.state.session_factory) as session:
                cache_purge(session, PAIR_PREFIX, now)
        first_ms = int(now.timestamp() * 1000)
        # The common case, a new pair, is one statement; a pair seen before is looked at closely.
        if cache_insert(self.state.engine, pair, f"{first_ms} {digest}", expires + PAIR_KEPT):
            return True
        with session_scope(self.state.session_factory) as session:
            return cache_admit(
                session,
                pair,
                digest,
                now=now,
                grace=PAIR_GRACE,
                expires_at=expires + PAIR_KEPT,
                limit=PAIR_BODIES,
            )

    def _accept(self, event: Event) -> None:
        if accept_inbound(self.state.engine, event):
            self.state.notify_worker()

    def robot(self) -> Any:
        """A message to the robot: verify, dedupe by msgId, record, answer at once."""
        body = read_body()  # 413 first, before any work on a huge body
        if not self._signed(body):
            return plain(403)
        data = _parse_object(body)
        event = self._robot_event(data) if data is not None else None
        if event is None:
            return plain(400)
        self._accept(event)
        return jsonify({})

    def _robot_event(self, data: dict[str, Any]) -> Event | None:
        """The Event of a robot message, or None when a field is missing or of the wrong type."""
        msg_id = data.get("msgId")
        if not isinstance(msg_id, str) or not msg_id:
            return None
        if not all(
            _optional(data, key, str)
            for key in ("senderStaffId", "senderId", "conversationId", "sessionWebhook", "msgtype")
        ):
            return None
        if not _optional(data, "conversationType", str, int) or not _optional(
            data, "sessionWebhookExpiredTime", int
        ):
            return None
        staff_id = data.get("senderStaffId") or None
        sender = staff_id or data.get("senderId")
        content = _message_content(data)
        if not sender or content is None:
            return None
        kind, text, media_ref = content
        group = str(data.get("conversationType")) == "2"
        conversation = data.get("conversationId")
        reply_to: dict[str, Any] = {"conversation_type": "2" if group else "1"}
        if staff_id:
            reply_to["user_id"] = staff_id
        if group and conversation:
            reply_to["chat_id"] = conversation
        webhook, expires = data.get("sessionWebhook"), data.get("sessionWebhookExpiredTime")
        # Only ever post to DingTalk's own host, whatever the body says.
        if webhook and webhook.startswith(f"{self.oapi}/") and expires is not None:
            reply_to["session_webhook"] = webhook
            reply_to["session_webhook_expires"] = expires
        return Event(
            platform=self.platform,
            kind=kind,
            sender_id=sender[:100],
            dedupe_key=f"msg:{msg_id}",
            received_at=self.state.clock.now(),
            text=text[:1000],
            media_ref=media_ref,
            chat_id=conversation if group else None,
            reply_to=reply_to,
        )

    def card(self) -> Any:
        """A card button click (CardCallbackMessage shape, design §11)."""
        body = read_body()
        if not self._signed(body):
            return plain(403)
        data = _parse_object(body)
        if data is None:
            return plain(400)
        out_track_id, user_id = data.get("outTrackId"), data.get("userId")
        if not (isinstance(out_track_id, str) and out_track_id):
            return plain(400)
        if not (isinstance(user_id, str) and user_id and _optional(data, "corpId", str)):
            return plain(400)
        # `content` and `value` both carry the click as a JSON string (CardCallbackMessage).
        contents = [_callback_content(data.get(key)) for key in ("content", "value")]
        if _MALFORMED in contents:
            return plain(400)
        if self.corp_id and data.get("corpId") != self.corp_id:
            return plain(403)  # another corp's click, or one that does not say whose
        value = read_action_value(contents[0]) or read_action_value(contents[1])
        if value is None:
            return jsonify({})  # a click without our value (link buttons, old cards): nothing to do
        # platforms.md §4 keys a click by outTrackId + userId + action, but 驳回, 取消, 驳回 again
        # on one card is the same triple twice. The header timestamp tells them apart, as
        # WeCom's CreateTime does: a re-delivery is the same signed request (the same pair and
        # body, see _first_use), a new press is signed when it is made.
        timestamp = request.headers.get("timestamp", "")
        digest = hashlib.sha256(
            f"{out_track_id}|{user_id}|{value}|{timestamp}".encode()
        ).hexdigest()
        self._accept(
            Event(
                platform=self.platform,
                kind=EventKind.CARD_ACTION,
                sender_id=user_id[:100],
                dedupe_key=f"card:{digest}",
                received_at=self.state.clock.now(),
                action_value=value[:1024],
                reply_to={"user_id": user_id},
                card_ref={"outTrackId": out_track_id},
            )
        )
        return jsonify({})

    def events(self) -> Any:
        """Event subscription (事件订阅): decrypt, answer encrypted "success"; events are ignored."""
        if self.crypto is None:
            return plain(404)
        from dingtalk.core.exceptions import (
            InvalidCorpIdOrSuiteKeyException,
            InvalidSignatureException,
        )

        body = read_body()
        signature = request.args.get("signature") or request.args.get("msg_signature") or ""
        timestamp = request.args.get("timestamp", "")
        nonce = request.args.get("nonce", "")
        data = _parse_object(body)
        if data is None or not isinstance(data.get("encrypt"), str):
            return plain(400)
        # The signature covers the body here, but not its age: the same window as the robot.
        if not signature or not nonce or not _fresh(timestamp, self.state.clock.now()):
            return plain(403)
        try:
            plaintext = self.crypto.decrypt_message(data, signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdOrSuiteKeyException):
            return plain(403)
        except Exception:  # bad base64/padding from a signed body: malformed, not ours to crash on
            return plain(400)
        event = _parse_object(plaintext.encode() if isinstance(plaintext, str) else plaintext)
        kind = event.get("EventType") if event is not None else None
        if not isinstance(kind, str) or not kind:
            return plain(400)
        if kind != "check_url":
            log.info("dingtalk: event %s ignored", kind[:40])
        now_ms = int(self.state.clock.now().timestamp() * 1000)
        return jsonify(self.crypto.encrypt_message("success", nonce=nonce, timestamp=now_ms))


def _fresh(timestamp: str, now: datetime) -> bool:
    """A millisecond `timestamp` within the replay window of now (design §11)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        return False
    return within_window(int(timestamp) / 1000, now, REPLAY_WINDOW)


def _parse_object(body: bytes) -> dict[str, Any] | None:
    """A JSON object from a request body, or None for anything else (→ 400).

    Refused besides what json.loads refuses: nesting too deep for it (RecursionError, not a
    ValueError) and strings with a lone surrogate (a JSON "\\ud800" escape), which no UTF-8
    text can hold: hashing, logging or storing them would fail later, inside the route.
    """
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            return None
        json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        return None
    return data


_MALFORMED = object()


def _callback_content(raw: Any) -> Any:
    """A card callback's `content`/`value` (a JSON object, or a string holding one) as a dict;
    None when absent, _MALFORMED for anything else."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return _MALFORMED
    return raw if isinstance(raw, dict) else _MALFORMED


def _optional(data: dict[str, Any], key: str, *types: type) -> bool:
    """True when `key` is absent, null or one of `types` (a JSON true/false is no number)."""
    value = data.get(key)
    return value is None or (isinstance(value, types) and not isinstance(value, bool))


def _message_content(data: dict[str, Any]) -> tuple[EventKind, str, str | None] | None:
    """(kind, text, downloadCode) of a robot message, None when its content is malformed.

    Unsupported types (audio, files, video…) become an empty text, which gets the help card
    (design §8: always answered).
    """
    msgtype, content = data.get("msgtype"), data.get("content")
    if msgtype == "text":
        text = data.get("text")
        words = text.get("content") if isinstance(text, dict) else None
        return (EventKind.TEXT, words.strip(), None) if isinstance(words, str) else None
    if msgtype not in ("picture", "richText"):
        return EventKind.TEXT, "", None
    if not isinstance(content, dict):
        return None
    if msgtype == "picture":
        if not (
            _optional(content, "downloadCode", str)
            and _optional(content, "pictureDownloadCode", str)
        ):
            return None
        code = content.get("downloadCode") or content.get("pictureDownloadCode")
        return (EventKind.IMAGE, "", code) if code else (EventKind.TEXT, "", None)
    parts = content.get("richText")
    if not isinstance(parts, list) or not all(
        isinstance(p, dict) and _optional(p, "text", str) and _optional(p, "downloadCode", str)
        for p in parts
    ):
        return None
    for part in parts:
        if part.get("downloadCode"):
            return EventKind.IMAGE, "", part["downloadCode"]
    return EventKind.TEXT, " ".join(p["text"] for p in parts if p.get("text")).strip(), None
