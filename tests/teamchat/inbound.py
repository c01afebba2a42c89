"""teamchat's callback route: verify the signature and its timestamp, read the JSON, record an
Event once through the core's inbound path (accept_inbound), wake the worker, answer 200."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify, request

from adapters.common.inbound import plain, read_body, within_window
from bot.ports import Event, EventKind
from bot.services.inbound import accept_inbound

if TYPE_CHECKING:
    from bot.state import BotState

REPLAY_WINDOW = 300


class TeamchatInbound:
    """POST /teamchat/events."""

    platform = "teamchat"

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.state = state
        self.secret = cfg["TEAMCHAT_SIGNING_SECRET"].encode()

    def blueprint(self) -> Blueprint:
        """The one callback route."""
        bp = Blueprint("teamchat", __name__, url_prefix="/teamchat")
        bp.add_url_rule("/events", view_func=self.events, methods=["POST"])
        return bp

    def _signed(self, body: bytes) -> bool:
        timestamp = request.headers.get("X-Teamchat-Timestamp", "")
        signature = request.headers.get("X-Teamchat-Signature", "")
        if not timestamp.isdigit():
            return False
        if not within_window(int(timestamp), self.state.clock.now(), REPLAY_WINDOW):
            return False
        base = f"v1:{timestamp}:".encode() + body
        expected = "v1=" + hmac.new(self.secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def events(self) -> Any:
        """verify → parse → dedupe and record → 200."""
        body = read_body()
        if not self._signed(body):
            return plain(403)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return plain(400)
        if not isinstance(data, dict):
            return plain(400)
        event = self._event(data)
        if event is None:
            return plain(400)
        if accept_inbound(self.state.engine, event):
            self.state.notify_worker()
        return jsonify({})

    def _event(self, data: dict[str, Any]) -> Event | None:
        event_id, user = data.get("event_id"), data.get("user")
        if not (isinstance(event_id, str) and event_id and isinstance(user, str) and user):
            return None
        common: dict[str, Any] = {
            "platform": self.platform,
            "sender_id": user[:100],
            "dedupe_key": f"evt:{event_id[:100]}",
            "received_at": self.state.clock.now(),
            "reply_to": {"user_id": user[:100]},
        }
        if data.get("type") == "block_action":
            value = data.get("value")
            if not isinstance(value, str) or not value:
                return None
            ref = {"message_id": data.get("message_id")}
            return Event(
                kind=EventKind.CARD_ACTION, action_value=value[:1024], card_ref=ref, **common
            )
        if data.get("type") != "message":
            return None
        files = data.get("files")
        if isinstance(files, list) and files and isinstance(files[0], dict):
            file_id = files[0].get("id")
            if not isinstance(file_id, str) or not file_id:
                return None
            return Event(kind=EventKind.IMAGE, media_ref=file_id[:200], **common)
        text = data.get("text")
        return Event(
            kind=EventKind.TEXT, text=text[:1000] if isinstance(text, str) else "", **common
        )
