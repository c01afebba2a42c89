"""The DingTalk (钉钉) adapter: robot HTTP callbacks, card clicks, event subscription, v1.0 sends.

Inbound (design §5, §11): `POST /dingtalk/robot` and `POST /dingtalk/card` carry headers
`timestamp` (ms) + `sign` = base64(HMAC-SHA256(app secret, timestamp + "\\n" + app secret)),
accepted within ±1 h; `POST /dingtalk/events` is the AES event subscription (DingTalkCrypto), on
only when DINGTALK_TOKEN and DINGTALK_AES_KEY are set. Outbound goes through the v1.0 API with
plain `requests` (dingtalk-sdk has no v1.0 client and its TOP calls ignore the base URL,
platforms.md §4); images for cards are uploaded through the old oapi `media/upload`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import requests
from flask import Blueprint, jsonify, request

from adapters.common.images import unless_image_refused
from adapters.common.inbound import plain, read_body, within_window
from adapters.common.session import ApiSession
from bot.ports import (
    DeliveryError,
    Event,
    EventKind,
    MediaLoader,
    MediaPayload,
    Recipient,
    SendResult,
)
from bot.runtime.tokens import TokenCache
from bot.services.evidence import MAX_BYTES
from bot.services.inbound import accept_inbound
from bot.services.kv import remembered
from cards import Card, Message, Text
from cards.dingtalk import (
    is_static,
    read_action_value,
    render_standard_card,
    render_template_params,
    text_message,
    webhook_text,
)

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

REPLAY_WINDOW = 3600  # design §11: robot and card headers ±1 h
TIMEOUT = (5, 15)  # connect, read (seconds): never hang the worker
MEDIA_TTL = 2 * 24 * 3600  # re-upload a card image after 2 days [assumed: media ids are temporary]
# oapi errcodes meaning "this access_token is bad or expired" (same family as WeCom's).
OAPI_TOKEN_ERRORS = {40001, 40014, 41001, 42001}
# Throttling answers, matched exactly (oapi `errcode` or v1.0 `code`), with the wait in seconds
# when the source gives one; None leaves it to the outbox's backoff (first retry after 5 s).
THROTTLED: dict[str, float | None] = {
    # Robot over 20 messages a minute: blocked for 10 minutes [doc] (platforms.md §4).
    "130101": 600.0,
    # [doc] open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server
    # ("调用频次与限流"): per app and API (old API 90018) and per API across all apps (old API
    # 90002), both over 1 s. Its monthly quota (90020 / ApiCountLimitForOrg) is left out on
    # purpose: retrying within the outbox's backoff cannot help, so it stays permanent.
    "90018": None,
    "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi": None,
    "90002": None,
    "Forbidden.AccessDenied.QpsLimitForApi": None,
}


def robot_signature(timestamp: str, secret: str) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)) [doc] (platforms.md §4)."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingtalkAdapter:
    """Enterprise-internal robot (企业内部机器人) in HTTP mode, plus interactive cards."""

    platform = "dingtalk"

    def __init__(self, state: BotState):
        cfg = state.config.platform("dingtalk")
        assert cfg is not None
        self.state = state
        self.app_key = cfg["DINGTALK_APP_KEY"]
        self.app_secret = cfg["DINGTALK_APP_SECRET"]
        self.robot_code = cfg["DINGTALK_ROBOT_CODE"]
        self.template_id = cfg.get("DINGTALK_CARD_TEMPLATE_ID") or None
        self.corp_id = cfg.get("DINGTALK_CORP_ID") or None
        self.api = cfg["DINGTALK_API_BASE"].rstrip("/")
        self.oapi = cfg["DINGTALK_OAPI_BASE"].rstrip("/")
        self.card_callback_url = f"{state.config.public_url}/dingtalk/card"
        self.tokens = TokenCache(state.session_factory, state.clock)
        self.http = ApiSession()
        self.crypto = None
        if cfg.get("DINGTALK_TOKEN") and cfg.get("DINGTALK_AES_KEY"):
            from dingtalk.crypto import DingTalkCrypto

            self.crypto = DingTalkCrypto(
                cfg["DINGTALK_TOKEN"], cfg["DINGTALK_AES_KEY"], self.app_key
            )

    # -- HTTP plumbing -------------------------------------------------------------------------

    def _request(self, method: str, url: str, **kw: Any) -> requests.Response:
        try:
            return self.http.request(method, url, timeout=TIMEOUT, **kw)
        except requests.RequestException as exc:
            raise DeliveryError(f"dingtalk: {type(exc).__name__}", retryable=True) from None

    def _fetch_token(self) -> tuple[str, int]:
        resp = self._request(
            "POST",
            f"{self.api}/v1.0/oauth2/accessToken",
            json={"appKey": self.app_key, "appSecret": self.app_secret},
        )
        data = _json(resp)
        if resp.status_code != 200 or not data.get("accessToken"):
            raise _error("accessToken", resp, data)
        return data["accessToken"], int(data.get("expireIn") or 7200)

    def _token_key(self) -> str:
        return f"dingtalk:token:{self.app_key}"

    def _api(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Call the v1.0 API; on a rejected token fetch a new one and retry once.

        Raises:
            DeliveryError: retryable for 429/5xx/timeouts/throttling, else permanent.
        """
        for attempt in (1, 2):
            token = self.tokens.get(self._token_key(), self._fetch_token)
            resp = self._request(
                method,
                f"{self.api}{path}",
                json=body,
                headers={"x-acs-dingtalk-access-token": token},
            )
            data = _json(resp)
            if resp.status_code == 200:
                return data
            if _is_token_error(resp, data) and attempt == 1:
                log.info("dingtalk: access token rejected on %s, refreshing", path)
                self.tokens.invalidate(self._token_key())
                continue
            raise _error(path, resp, data)
        raise AssertionError("unreachable")

    def _oapi_token(self) -> tuple[str, int]:
        resp = self._request(
            "GET",
            f"{self.oapi}/gettoken",
            params={"appkey": self.app_key, "appsecret": self.app_secret},
        )
        data = _json(resp)
        if resp.status_code != 200 or data.get("errcode") or not data.get("access_token"):
            raise _error("gettoken", resp, data)
        return data["access_token"], int(data.get("expires_in") or 7200)

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
            ttl=timedelta(seconds=MEDIA_TTL),
            produce=upload,
        )

    def _oapi_upload(self, payload: MediaPayload) -> str:
        """POST {oapi}/media/upload?type=image with the old-style token; retry once on 40014 & co."""
        key = f"dingtalk:oapi:{self.app_key}"
        for attempt in (1, 2):
            token = self.tokens.get(key, self._oapi_token)
            resp = self._request(
                "POST",
                f"{self.oapi}/media/upload",
                params={"access_token": token, "type": "image"},
                files={"media": (payload.filename, payload.data, payload.mime_type)},
            )
            data = _json(resp)
            if resp.status_code == 200 and not data.get("errcode") and data.get("media_id"):
                return str(data["media_id"])
            if data.get("errcode") in OAPI_TOKEN_ERRORS and attempt == 1:
                self.tokens.invalidate(key)
                continue
            raise _error("media/upload", resp, data)
        raise AssertionError("unreachable")

    # -- outbound ------------------------------------------------------------------------------

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """One platform message per send."""
        return 1  # the photo is part of the card

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
            data = self._api("POST", "/v1.0/robot/groupMessages/send", body)
            return SendResult({"processQueryKey": data.get("processQueryKey")})
        if recipient.user_id:
            body["userIds"] = [recipient.user_id]
            data = self._api("POST", "/v1.0/robot/oToMessages/batchSend", body)
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
        resp = self._request("POST", url, json=webhook_text(text))
        data = _json(resp)
        if resp.status_code != 200 or data.get("errcode"):
            raise _error("sessionWebhook", resp, data)
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
            self._api("POST", "/v1.0/im/v1.0/robot/interactiveCards/send", body)
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
        self._api("POST", "/v1.0/card/instances/createAndDeliver", body)

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Replace a delivered card's content by its outTrackId. Raises DeliveryError."""
        out_track_id = external_ref.get("outTrackId")
        if not out_track_id:
            raise DeliveryError("dingtalk: card reference without outTrackId", retryable=False)
        image = self._upload_image(card.image, media) if card.image else None
        if external_ref.get("mode") == "template":
            self._api(
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
            self._api(
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
        data = self._api(
            "POST",
            "/v1.0/robot/messageFiles/download",
            {"downloadCode": media_ref, "robotCode": self.robot_code},
        )
        url = data.get("downloadUrl")
        if not url:
            raise DeliveryError("dingtalk: no downloadUrl", retryable=False)
        try:
            with self.http.get(url, timeout=TIMEOUT, stream=True) as resp:
                if resp.status_code != 200:
                    retryable = resp.status_code == 429 or resp.status_code >= 500
                    raise DeliveryError(
                        f"dingtalk: file download HTTP {resp.status_code}", retryable=retryable
                    )
                # One byte over the cap is enough for the evidence check to refuse it.
                body = resp.raw.read(MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise DeliveryError(f"dingtalk: {type(exc).__name__}", retryable=True) from None
        return body

    # -- inbound -------------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        """The robot, card-callback and event-subscription routes."""
        bp = Blueprint("dingtalk", __name__, url_prefix="/dingtalk")
        bp.add_url_rule("/robot", view_func=self.robot, methods=["POST"])
        bp.add_url_rule("/card", view_func=self.card, methods=["POST"])
        bp.add_url_rule("/events", view_func=self.events, methods=["POST"])
        return bp

    def _signed(self) -> bool:
        """Header `timestamp` (ms, ±1 h of the clock) and `sign` match (design §11)."""
        timestamp = request.headers.get("timestamp", "")
        sign = request.headers.get("sign", "")
        if not (timestamp.isascii() and timestamp.isdigit()) or not sign or len(timestamp) > 16:
            return False
        if not within_window(int(timestamp) / 1000, self.state.clock.now(), REPLAY_WINDOW):
            return False
        return hmac.compare_digest(
            robot_signature(timestamp, self.app_secret).encode(), sign.encode()
        )

    def _accept(self, event: Event) -> None:
        if accept_inbound(self.state.engine, event):
            self.state.notify_worker()

    def robot(self) -> Any:
        """A message to the robot: verify, dedupe by msgId, record, answer at once."""
        body = read_body()  # 413 first, before any work on a huge body
        if not self._signed():
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
        if not self._signed():
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
        digest = hashlib.sha256(f"{out_track_id}|{user_id}|{value}".encode()).hexdigest()
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
        if not signature or not timestamp or not nonce:
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


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _is_token_error(resp: requests.Response, data: dict[str, Any]) -> bool:
    """True when the v1.0 API rejected the access token itself (expired or revoked early)."""
    return resp.status_code == 401 or str(data.get("code") or "") == "InvalidAuthentication"


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


def _error(what: str, resp: requests.Response, data: dict[str, Any]) -> DeliveryError:
    """Map a failed call to a DeliveryError: 429/5xx/throttling retryable, other 4xx permanent.

    Throttling is recognised by exact code (THROTTLED), never by a substring: codes such as
    `InvalidParameter.LengthLimit` are permanent however they are spelled.
    """
    code = str(data.get("code") or data.get("errcode") or "")
    status = resp.status_code
    throttled = status == 429 or code in THROTTLED
    retry_after = THROTTLED.get(code)
    header = resp.headers.get("Retry-After", "")
    if header.isdigit():
        retry_after = float(header)
    retryable = throttled or status >= 500 or _is_token_error(resp, data)
    return DeliveryError(
        f"dingtalk {what}: HTTP {status} {code}"[:300], retryable=retryable, retry_after=retry_after
    )


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
