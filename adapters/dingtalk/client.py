"""DingTalk outbound: robot texts (batchSend, group send, a conversation's sessionWebhook),
interactive cards (the built-in StandardCard, or a card-builder template), card updates by
outTrackId and image downloads, over the v1.0 API; card images go up through the old oapi
`media/upload` (platforms.md §4)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from adapters.common.images import unless_image_refused
from adapters.common.session import ApiSession
from adapters.dingtalk.api import DingtalkApi, DingtalkOapi
from adapters.dingtalk.render import (
    is_static,
    render_standard_card,
    render_template_params,
    text_message,
    webhook_text,
)
from bot.ports import DeliveryError, MediaLoader, MediaPayload, Recipient, SendResult
from bot.runtime.tokens import TokenCache
from bot.services.evidence import MAX_BYTES
from bot.services.kv import remembered
from cards import Card, Message, Text

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

MEDIA_TTL = timedelta(days=2)  # re-upload a card image after 2 days [assumed: ids are temporary]
# robot/oToMessages/batchSend `userIds` per call: 20 [unconfirmed: DingTalk's reference page is
# not in our sources; platforms.md §4 and third-party READMEs (e.g. the dingtalk-robot-mcp
# server's "批量发送 一次发送给最多 20 个用户") say 20]. Interactive cards have no batch form:
# each copy is its own card instance with its own outTrackId.
BATCH_SEND_MAX = 20


class DingtalkClient:
    """Enterprise-internal robot (企业内部机器人) sends, interactive cards and downloads."""

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.state = state
        self.app_key = cfg["DINGTALK_APP_KEY"]
        self.robot_code = cfg["DINGTALK_ROBOT_CODE"]
        self.template_id = cfg.get("DINGTALK_CARD_TEMPLATE_ID") or None
        self.card_callback_url = f"{state.config.public_url}/dingtalk/card"
        tokens = TokenCache(state.session_factory, state.clock)
        http = ApiSession()  # one connection pool for both hosts' calls
        credentials = {"app_key": self.app_key, "app_secret": cfg["DINGTALK_APP_SECRET"]}
        self.api = DingtalkApi(
            base=cfg["DINGTALK_API_BASE"].rstrip("/"),
            tokens=tokens,
            token_key=f"dingtalk:token:{self.app_key}",
            http=http,
            **credentials,
        )
        self.oapi = DingtalkOapi(
            base=cfg["DINGTALK_OAPI_BASE"].rstrip("/"),
            tokens=tokens,
            token_key=f"dingtalk:oapi:{self.app_key}",
            http=http,
            **credentials,
        )

    def _v1(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Call the v1.0 API; the answer's object. Raises DeliveryError."""
        return self.api.call(path, method, path, json=body).body or {}

    def _upload_image(self, ref: str, media: MediaLoader) -> str | None:
        """The media id (`@lAD…`) of a card image, uploading it once and caching the id; None
        when the image is missing or refused for good (the card goes out without it).

        Two processes racing upload twice and keep the last id, which is harmless.
        """

        def upload() -> str | None:
            payload = media(ref)
            if payload is None:
                log.warning("dingtalk: card image %s not found, sending without it", ref)
                return None
            return unless_image_refused(
                lambda: self._oapi_upload(payload),
                log,
                "dingtalk: card image %s refused (%s), sending without it",
                ref,
            )

        return remembered(
            self.state.session_factory,
            f"dingtalk:media:{self.app_key}:{ref}",
            now=self.state.clock.now(),
            ttl=MEDIA_TTL,
            produce=upload,
        )

    def _oapi_upload(self, payload: MediaPayload) -> str:
        """POST {oapi}/media/upload?type=image with the old-style token."""
        answer = self.oapi.call(
            "media/upload",
            "POST",
            "/media/upload",
            params={"type": "image"},
            files={"media": (payload.filename, payload.data, payload.mime_type)},
        )
        media_id = (answer.body or {}).get("media_id")
        if not media_id:
            raise self.oapi.error("media/upload", "POST", answer.response, "")
        return str(media_id)

    # -- sends -----------------------------------------------------------------------------------

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """One platform message per send."""
        return 1  # the photo is part of the card

    def batch_limit(self, message: Message) -> int:
        """Texts and static cards go up to BATCH_SEND_MAX users per batchSend; interactive
        cards one by one."""
        if isinstance(message, Card) and not is_static(message):
            return 1
        return BATCH_SEND_MAX

    def send_batch(
        self,
        recipients: Sequence[Recipient],
        message: Message,
        *,
        idempotency_key: str,
        media: MediaLoader,
    ) -> list[SendResult | DeliveryError]:
        """One batchSend to several users; flow-controlled users are retried later on their
        own, invalid ones fail alone."""
        user_ids = [r.user_id or "" for r in recipients]
        if not 0 < len(user_ids) <= BATCH_SEND_MAX or not all(user_ids):
            raise DeliveryError("dingtalk batch: 1 to 20 users with ids", retryable=False)
        text = message if isinstance(message, Text) else Text(message.as_text())
        msg_key, param = text_message(text)
        body = {
            "robotCode": self.robot_code, "userIds": user_ids, "msgKey": msg_key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }  # fmt: skip
        data = self._v1("POST", "/v1.0/robot/oToMessages/batchSend", body)
        limited = set(data.get("flowControlledStaffIdList") or [])
        invalid = set(data.get("invalidStaffIdList") or [])
        ref = {"processQueryKey": data.get("processQueryKey")}
        outcomes: list[SendResult | DeliveryError] = []
        for user_id in user_ids:
            if user_id in limited:
                outcomes.append(DeliveryError("dingtalk: batchSend flow-controlled"))
            elif user_id in invalid:
                outcomes.append(
                    DeliveryError("dingtalk: batchSend invalid staff id", retryable=False)
                )
            else:
                outcomes.append(SendResult(dict(ref)))
        return outcomes

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Send a text (batchSend / group send) or an interactive card. Raises DeliveryError."""
        if isinstance(message, Card) and not is_static(message):
            return self._send_card(recipient, message, idempotency_key, media)
        if isinstance(message, Card):
            # Batch-sent text is cheaper and sturdier than an interactive card nobody acts on.
            return self._send_text(recipient, Text(message.as_text()))
        return self._send_text(recipient, message)

    def _send_text(self, recipient: Recipient, text: Text) -> SendResult:
        msg_key, param = text_message(text)
        body: dict[str, Any] = {
            "robotCode": self.robot_code,
            "msgKey": msg_key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }
        if recipient.chat_id:
            body["openConversationId"] = recipient.chat_id
            data = self._v1("POST", "/v1.0/robot/groupMessages/send", body)
            return SendResult({"processQueryKey": data.get("processQueryKey")})
        if recipient.user_id:
            body["userIds"] = [recipient.user_id]
            data = self._v1("POST", "/v1.0/robot/oToMessages/batchSend", body)
            if recipient.user_id in (data.get("flowControlledStaffIdList") or []):
                raise DeliveryError("dingtalk: batchSend flow-controlled", retryable=True)
            if recipient.user_id in (data.get("invalidStaffIdList") or []):
                raise DeliveryError("dingtalk: batchSend invalid staff id", retryable=False)
            return SendResult({"processQueryKey": data.get("processQueryKey")})
        return self._send_webhook(recipient, text)

    def _send_webhook(self, recipient: Recipient, text: Text) -> SendResult:
        """Last resort for senders without a staff id (outside the org): the sessionWebhook."""
        reply_to = recipient.reply_to or {}
        url, expires = reply_to.get("session_webhook"), reply_to.get("session_webhook_expires")
        now_ms = self.state.clock.now().timestamp() * 1000
        if not url or not isinstance(expires, int) or expires <= now_ms:
            raise DeliveryError("dingtalk: no staff id, chat or live webhook", retryable=False)
        # The webhook URL carries its own credentials; it answers like the oapi (errcode).
        self.oapi.call("sessionWebhook", "POST", url, json=webhook_text(text), authorized=False)
        return SendResult({})

    def _card_id(self, idempotency_key: str, card: Card) -> str:
        # Deterministic per outbox row: DingTalk ignores a second create with the same id
        # ("同一个outTrackId重复创建，卡片数据不覆盖更新" [doc], im_1_0 SendRobotInteractiveCardRequest),
        # so a retry after a lost response cannot deliver the card twice.
        seed = f"{self.robot_code}|{idempotency_key}|{card.key or ''}"
        return "pb" + hashlib.sha256(seed.encode()).hexdigest()[:30]

    def _send_card(
        self, recipient: Recipient, card: Card, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        if not (recipient.chat_id or recipient.user_id):
            # No address for a card (sessionWebhook cannot carry interactive cards).
            return self._send_text(recipient, Text(card.as_text()))
        out_track_id = self._card_id(idempotency_key, card)
        image = self._upload_image(card.image, media) if card.image else None
        if self.template_id:
            self._create_template_card(recipient, card, out_track_id, image)
            mode = "template"
        else:
            # [doc] Body fields from im_1_0 SendRobotInteractiveCardRequest and dingtalk-stream's
            # reply_card: cardData is a JSON *string*; singleChatReceiver a JSON string
            # {"userId": …} or openConversationId for a group; callbackUrl "可交互卡片回调的url".
            # [assumed] DingTalk posts clicks on this card to callbackUrl with the robot's
            # timestamp/sign headers (design §11 fixes that contract; unproved on a live tenant).
            body: dict[str, Any] = {
                "cardTemplateId": "StandardCard",
                "cardBizId": out_track_id,
                "robotCode": self.robot_code,
                "cardData": json.dumps(
                    render_standard_card(card, image_media_id=image), ensure_ascii=False
                ),
                "callbackUrl": self.card_callback_url,
                "sendOptions": {},
            }
            if recipient.chat_id:
                body["openConversationId"] = recipient.chat_id
            else:
                body["singleChatReceiver"] = json.dumps({"userId": recipient.user_id})
            self._v1("POST", "/v1.0/im/v1.0/robot/interactiveCards/send", body)
            mode = "robot"
        ref = {"outTrackId": out_track_id, "mode": mode}
        ref.update({"chat_id": recipient.chat_id} if recipient.chat_id else {})
        ref.update({"user_id": recipient.user_id} if recipient.user_id else {})
        return SendResult(ref)

    def _create_template_card(
        self, recipient: Recipient, card: Card, out_track_id: str, image: str | None
    ) -> None:
        # Body shape [proved] via card_1_0 (platforms.md §4). callbackType HTTP sends clicks to the
        # URL registered for callbackRouteKey (POST /v1.0/card/callbacks/register, an ops step).
        body: dict[str, Any] = {
            "cardTemplateId": self.template_id,
            "outTrackId": out_track_id,
            "callbackType": "HTTP",
            "callbackRouteKey": self.robot_code,
            "cardData": {"cardParamMap": render_template_params(card, image_media_id=image)},
            "userIdType": 1,
        }
        if recipient.chat_id:
            body["openSpaceId"] = f"dtv1.card//IM_GROUP.{recipient.chat_id}"
            body["imGroupOpenSpaceModel"] = {"supportForward": False}
            body["imGroupOpenDeliverModel"] = {"robotCode": self.robot_code}
        else:
            body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{recipient.user_id}"
            body["imRobotOpenSpaceModel"] = {"supportForward": False}
            body["imRobotOpenDeliverModel"] = {
                "spaceType": "IM_ROBOT",
                "robotCode": self.robot_code,
            }
        self._v1("POST", "/v1.0/card/instances/createAndDeliver", body)

    # -- card updates and downloads --------------------------------------------------------------

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Replace a delivered card's content by its outTrackId. Raises DeliveryError."""
        out_track_id = external_ref.get("outTrackId")
        if not out_track_id:
            raise DeliveryError("dingtalk: card reference without outTrackId", retryable=False)
        image = self._upload_image(card.image, media) if card.image else None
        if external_ref.get("mode") == "template":
            self._v1(
                "PUT",
                "/v1.0/card/instances",
                {
                    "outTrackId": out_track_id,
                    "cardData": {
                        "cardParamMap": render_template_params(card, image_media_id=image)
                    },
                    "cardUpdateOptions": {"updateCardDataByKey": True},
                },
            )
        else:
            # [doc] dingtalk-stream update_card: PUT {cardBizId, cardData (JSON string)}.
            self._v1(
                "PUT",
                "/v1.0/im/robots/interactiveCards",
                {
                    "cardBizId": out_track_id,
                    "cardData": json.dumps(
                        render_standard_card(card, image_media_id=image), ensure_ascii=False
                    ),
                },
            )
        return None

    def download_image(self, media_ref: str) -> bytes:
        """Trade a message's downloadCode for a temporary URL and fetch it (≤ 10 MB + 1 byte)."""
        data = self._v1(
            "POST",
            "/v1.0/robot/messageFiles/download",
            {"downloadCode": media_ref, "robotCode": self.robot_code},
        )
        url = data.get("downloadUrl")
        if not url:
            raise DeliveryError("dingtalk: no downloadUrl", retryable=False)
        # The URL itself grants access: no token on it.
        return self.api.download("file download", url, limit=MAX_BYTES, authorized=False)
