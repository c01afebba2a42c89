"""teamchat's outbound side over the shared Open API client (token, one retry, error mapping):
posts, card updates, photo uploads and downloads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import requests

from adapters.common.api import ApiClient
from adapters.common.images import unless_image_refused
from bot.ports import DeliveryError, MediaLoader, Recipient, SendResult
from bot.runtime.tokens import TokenCache
from bot.services.evidence import MAX_BYTES
from cards import Card, Message
from tests.teamchat.render import card_blocks, render

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)


class TeamchatApi(ApiClient):
    """The teamchat Open API under one app token."""

    platform = "teamchat"
    code_name = "error"
    token_codes = frozenset({"invalid_auth", "token_expired"})
    rate_limits = {"ratelimited": None}
    token_header = "Authorization"
    token_prefix = "Bearer "

    def __init__(self, cfg: dict[str, str], tokens: TokenCache):
        client_id = cfg["TEAMCHAT_CLIENT_ID"]
        super().__init__(
            cfg["TEAMCHAT_API_BASE"].rstrip("/"),
            tokens=tokens,
            token_key=f"teamchat:token:{client_id}",
        )
        self._credentials = {"client_id": client_id, "client_secret": cfg["TEAMCHAT_CLIENT_SECRET"]}

    def fetch_token(self) -> tuple[str, int]:
        """POST /api/auth.token. Raises DeliveryError."""
        body = self.call(
            "token", "POST", "/api/auth.token", json=self._credentials, authorized=False
        ).body
        token = (body or {}).get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryError("teamchat token: no access_token", retryable=False)
        return token, int((body or {}).get("expires_in") or 3600)

    def read(self, resp: requests.Response) -> tuple[dict[str, Any] | None, str | None]:
        """The JSON answer and its `error` (None when `ok`)."""
        try:
            body = resp.json()
        except ValueError:
            return None, ""
        if not isinstance(body, dict):
            return None, ""
        return body, None if body.get("ok") is True else str(body.get("error") or "")


class TeamchatClient:
    """Sends, card updates and image transfers for one teamchat app."""

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.api = TeamchatApi(cfg, TokenCache(state.session_factory, state.clock))

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """One platform message per send (the photo is part of the card)."""
        return 1

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """POST chat.post to a user or a channel; `client_msg_id` makes a retry land once."""
        if recipient.chat_id:
            to = {"channel": recipient.chat_id}
        elif recipient.user_id:
            to = {"user": recipient.user_id}
        else:
            raise DeliveryError("teamchat: no user or channel", retryable=False)
        file_id = None
        if isinstance(message, Card) and message.image:
            file_id = unless_image_refused(
                lambda: self._upload(message.image or "", media),
                log,
                "teamchat: image %s refused (%s), card sent without it",
                message.image,
            )
        body = {**to, "client_msg_id": idempotency_key, **render(message, file_id=file_id)}
        answer = self.api.call("post", "POST", "/api/chat.post", json=body).body or {}
        return SendResult({"message_id": answer.get("message_id"), "file_id": file_id})

    def _upload(self, ref: str, media: MediaLoader) -> str | None:
        payload = media(ref)
        if payload is None:
            return None
        files = {"file": (payload.filename, payload.data, payload.mime_type)}
        answer = self.api.call("upload", "POST", "/api/files.upload", files=files).body or {}
        return answer.get("file_id")

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """POST chat.update with the card's new blocks (the photo uploaded with the send)."""
        message_id = external_ref.get("message_id")
        if not message_id:
            return None
        file_id = external_ref.get("file_id") if card.image else None
        body = {"message_id": message_id, "blocks": card_blocks(card, file_id=file_id)}
        self.api.call("update", "POST", "/api/chat.update", json=body)
        return None

    def download_image(self, media_ref: str) -> bytes:
        """GET files.get. Raises DeliveryError."""
        return self.api.download(
            "download", "/api/files.get", params={"id": media_ref}, limit=MAX_BYTES
        )
