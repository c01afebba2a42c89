"""Feishu outbound: messages through POST /im/v1/messages (`uuid` makes a retried send land
once), cards patched in place for 14 days, images uploaded for cards and downloaded from the
user's message (platforms.md §5)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from adapters.common.images import unless_image_refused
from adapters.feishu.api import REF_PART, FeishuApi
from adapters.feishu.render import render
from bot.ports import DeliveryError, MediaLoader, Recipient, SendResult
from bot.runtime.tokens import TokenCache
from bot.services.evidence import MAX_BYTES as MAX_PHOTO_BYTES
from cards import Card, Message, Text

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = (3.05, 30)
MESSAGES_PATH = "/open-apis/im/v1/messages"
IMAGES_PATH = "/open-apis/im/v1/images"
MAX_UUID = 50  # Feishu `uuid` (send idempotency) is at most 50 characters
BATCH_PATH = "/open-apis/message/v4/batch_send/"
# 批量发送消息 (open.feishu.cn/document/ukTMukTMukTM/ucDO1EjL3gTNx4yN4UTM): 1000/min and 50/s
# per app, 500,000 messages a day, asynchronous, and its messages "不支持编辑、回复等操作" — so
# only plain texts go this way; cards are patched later and go one by one. Users per call:
# 200 [unconfirmed: the stored copy of the official page does not show the field limits; a
# third-party summary of the IM API says "批量发送 最多 200 人"].
BATCH_SEND_MAX = 200


class FeishuClient:
    """Sends, card patches and image transfers for one Feishu custom app."""

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.api = FeishuApi(
            cfg["FEISHU_APP_ID"],
            cfg["FEISHU_APP_SECRET"],
            domain=(cfg.get("FEISHU_DOMAIN") or "https://open.feishu.cn").rstrip("/"),
            tokens=TokenCache(state.session_factory, state.clock),
        )

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """One platform message per send."""
        return 1  # the photo is part of the card

    def batch_limit(self, message: Message) -> int:
        """Plain texts go up to BATCH_SEND_MAX users per batch_send; cards one by one."""
        return BATCH_SEND_MAX if isinstance(message, Text) else 1

    def send_batch(
        self,
        recipients: Sequence[Recipient],
        message: Message,
        *,
        idempotency_key: str,
        media: MediaLoader,
    ) -> list[SendResult | DeliveryError]:
        """POST /message/v4/batch_send/ with `open_ids`; refused ids fail alone.

        The endpoint has no `uuid`: a retry after a lost answer may deliver twice.
        """
        open_ids = [r.user_id or "" for r in recipients]
        if not isinstance(message, Text) or not 0 < len(open_ids) <= BATCH_SEND_MAX:
            raise DeliveryError("feishu batch: texts to 1 to 200 users", retryable=False)
        msg_type, content = render(message)
        data = self.api.data(
            BATCH_PATH,
            "POST",
            BATCH_PATH,
            json={"open_ids": open_ids, "msg_type": msg_type, "content": content},
        )
        invalid = set(data.get("invalid_open_ids") or [])
        ref = {"batch_message_id": data.get("message_id")}
        return [
            DeliveryError("feishu batch: invalid open_id", retryable=False)
            if open_id in invalid
            else SendResult(dict(ref))
            for open_id in open_ids
        ]

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
        data = self.api.data(
            MESSAGES_PATH,
            "POST",
            MESSAGES_PATH,
            params={"receive_id_type": id_type},
            json={
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
        if not isinstance(message_id, str) or not REF_PART.match(message_id):
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
        path = f"{MESSAGES_PATH}/{message_id}"
        self.api.call(
            path, "PATCH", path, json={"content": json.dumps(content, ensure_ascii=False)}
        )
        return new_ref

    def download_image(self, media_ref: str) -> bytes:
        """GET the user's image from its message (im.v1.image.get only serves our own uploads).

        One byte past the evidence limit is read: the claim handler then refuses the photo with
        a clear message instead of us holding a huge body.
        """
        message_id, _, file_key = media_ref.partition("/")
        if not REF_PART.match(message_id) or not REF_PART.match(file_key):
            raise DeliveryError("feishu: bad media reference", retryable=False)
        path = f"{MESSAGES_PATH}/{quote(message_id)}/resources/{quote(file_key)}"
        return self.api.download(path, path, params={"type": "image"}, limit=MAX_PHOTO_BYTES)

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
            data = self.api.data(
                IMAGES_PATH,
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
