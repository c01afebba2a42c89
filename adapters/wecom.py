"""The `wecom` platform (企业微信 self-built app) on wechatpy 1.8.18 `wechatpy.enterprise`.

Inbound: `GET /wecom/callback` answers the URL check with the decrypted echostr;
`POST /wecom/callback` takes encrypted XML (messages, enter_agent, template_card_event clicks),
verifies, decrypts, dedupes and records an Event, then answers an empty 200 (platforms.md §3).
Outbound: app messages through `message/send`, cards as `template_card` (按钮交互型), card updates
through `message/update_template_card` with the newest unused response_code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import struct
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import ParseError

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from flask import Blueprint, request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from wechatpy.enterprise import WeChatClient
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException
from wechatpy.utils import WeChatSigner

from adapters.common.images import unless_image_refused
from adapters.common.inbound import plain, read_body, within_window
from adapters.common.session import ApiSession
from bot.db import session_scope
from bot.errors import ConfigError
from bot.models import KeyValue
from bot.ports import DeliveryError, Event, EventKind, MediaLoader, Recipient, SendResult
from bot.runtime.tokens import TokenCache
from bot.services.inbound import accept_inbound, record_inbound
from bot.services.kv import cache_get, cache_put, remembered
from cards import Card, Message
from cards.wecom import (
    DONE_KEY,
    card_markdown,
    is_interactive,
    render_message,
    render_template_card,
    task_id_for,
)

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

REPLAY_WINDOW = 300  # design §11: WeCom timestamps ±5 min
TIMEOUT = (5, 20)  # connect, read (seconds); the SDK sets none by default
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, expired token
RETRYABLE_ERRORS = frozenset({-1, 45009, 45033})  # system busy, API rate limit, too many concurrent
RESPONSE_CODE_TTL = timedelta(hours=24)  # doc says 72 h; older docs say 24 h (platforms.md §3)
MEDIA_TTL = timedelta(days=2)  # a temporary media_id lives 3 days
# How long "this outbox row's photo went out" is kept: longer than any row keeps retrying.
PHOTO_SENT_TTL = timedelta(days=3)
# Messages without their own handling still deserve an answer (the help card, design §8).
OTHER_MESSAGES = frozenset({"voice", "video", "file", "location", "link"})
# What a signed but undecryptable Encrypt/echostr raises inside wechatpy's PrpCrypto.
DECRYPT_ERRORS = (
    binascii.Error,
    ValueError,
    UnicodeDecodeError,
    IndexError,
    TypeError,
    struct.error,
)


class WecomClient(WeChatClient):
    """wechatpy's client with a configurable base URL, a timeout on `gettoken` and the token
    kept in the shared TokenCache (the SDK hard-codes the gettoken host and caches per process)."""

    def __init__(self, corp_id: str, secret: str, *, base: str, tokens: TokenCache, token_key: str):
        super().__init__(corp_id, secret, timeout=TIMEOUT, auto_retry=False)
        self._http = ApiSession()
        self.API_BASE_URL = base
        self._tokens = tokens
        self._token_key = token_key

    @property
    def access_token(self) -> str:  # type: ignore[override]
        """The shared token, fetched once across processes when missing or nearly expired."""
        return self._tokens.get(self._token_key, self._fetch_token)

    def fetch_access_token(self) -> dict[str, Any]:
        """GET {base}gettoken with a timeout. Raises WeChatClientException or requests errors."""
        res = self._http.get(
            self.API_BASE_URL + "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
            timeout=self.timeout,
        )
        try:
            res.raise_for_status()
        except requests.HTTPError as exc:
            raise WeChatClientException(
                None, None, client=self, request=exc.request, response=exc.response
            ) from None
        result = res.json()
        if result.get("errcode"):
            raise WeChatClientException(
                int(result["errcode"]),
                result.get("errmsg"),
                client=self,
                request=res.request,
                response=res,
            )
        return result

    def _fetch_token(self) -> tuple[str, int]:
        result = self.fetch_access_token()
        return result["access_token"], int(result.get("expires_in", 7200))

    def invalidate_token(self) -> None:
        """Forget the token WeCom just rejected."""
        self._tokens.invalidate(self._token_key)


def _delivery_error(what: str, exc: WeChatClientException) -> DeliveryError:
    """Map an SDK error: rate limits, busy, 5xx and 429 are worth a retry; the rest is not."""
    if exc.errcode is None:
        status = exc.response.status_code if exc.response is not None else None
        retry_after = None
        if status == 429 and exc.response is not None:
            try:
                retry_after = float(exc.response.headers.get("Retry-After", ""))
            except ValueError:
                retry_after = None
        retryable = status is None or status >= 500 or status == 429
        return DeliveryError(
            f"wecom {what}: HTTP {status}", retryable=retryable, retry_after=retry_after
        )
    retryable = exc.errcode in RETRYABLE_ERRORS or exc.errcode in TOKEN_ERRORS
    return DeliveryError(f"wecom {what}: errcode {exc.errcode} {exc.errmsg}", retryable=retryable)


class WecomAdapter:
    """企业微信 self-built app: callback route, app messages, template cards."""

    platform = "wecom"

    def __init__(self, state: BotState):
        self.state = state
        cfg = state.config.platform("wecom")
        assert cfg is not None, "wecom is not configured"
        self.corp_id = cfg["WECOM_CORP_ID"]
        self.agent_id = int(cfg["WECOM_AGENT_ID"])
        self.token = cfg["WECOM_TOKEN"]
        try:
            self.crypto = WeChatCrypto(self.token, cfg["WECOM_AES_KEY"], self.corp_id)
        except (binascii.Error, ValueError, AssertionError):
            raise ConfigError("WECOM_AES_KEY: not a valid EncodingAESKey") from None
        self.tokens = TokenCache(state.session_factory, state.clock)
        self.client = WecomClient(
            self.corp_id,
            cfg["WECOM_SECRET"],
            base=cfg["WECOM_API_BASE"],
            tokens=self.tokens,
            token_key=f"wecom:token:{self.corp_id}:{self.agent_id}",
        )

    # -- outbound ------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run one API call; on an expired token refetch and retry once. Raises DeliveryError."""
        for attempt in (1, 2):
            try:
                return fn()
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    log.info("wecom %s: token rejected (%s), refetching", what, exc.errcode)
                    self.client.invalidate_token()
                    continue
                raise _delivery_error(what, exc) from None
            except requests.RequestException as exc:
                raise DeliveryError(f"wecom {what}: {type(exc).__name__}", retryable=True) from None
        raise AssertionError("unreachable")

    def _post(self, what: str, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        result = self._call(what, lambda: self.client.post(endpoint, data=data))
        if not isinstance(result, dict):
            raise DeliveryError(f"wecom {what}: unexpected answer", retryable=True)
        return result

    def _send_app_message(self, recipient: Recipient, body: dict[str, Any]) -> dict[str, Any]:
        """message/send to one member (or appchat/send to a group chat)."""
        if recipient.chat_id:
            return self._post("appchat", "appchat/send", {"chatid": recipient.chat_id, **body})
        user_id = recipient.user_id or (recipient.reply_to or {}).get("user_id")
        if not user_id:
            raise DeliveryError("wecom: recipient has no userid", retryable=False)
        data = {"touser": user_id, "toparty": "", "totag": "", "agentid": self.agent_id, **body}
        result = self._post("send", "message/send", data)
        if result.get("invaliduser"):
            # errcode 0 but nobody received it: the member left or is outside the app's scope.
            raise DeliveryError(f"wecom send: invalid user {user_id}", retryable=False)
        return result

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """A card with a photo is two app messages (the photo goes first, on its own); both
        count against WeCom's 30/min and 1000/h per member, above which it drops messages."""
        photo = isinstance(message, Card) and message.image and not recipient.chat_id
        return 2 if photo else 1

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Deliver a text, a card (photo first, as its own image message) or a markdown card."""
        if recipient.chat_id and isinstance(message, Card):
            # Group chats (appchat/send) take no template cards: show the card as markdown.
            body = {"msgtype": "markdown", "markdown": {"content": card_markdown(message)}}
            result = self._send_app_message(recipient, body)
            return SendResult({"msgid": result.get("msgid")})
        if isinstance(message, Card) and message.image:
            self._send_image(recipient, message.image, media, idempotency_key)
        task_id = task_id_for(idempotency_key)
        result = self._send_app_message(recipient, render_message(message, task_id=task_id))
        ref: dict[str, Any] = {"msgid": result.get("msgid")}
        if is_interactive(message):
            user_id = recipient.user_id or (recipient.reply_to or {}).get("user_id")
            ref.update(task_id=task_id, user_id=user_id, response_code=result.get("response_code"))
        return SendResult(ref)

    def _send_image(
        self, recipient: Recipient, ref: str, media: MediaLoader, idempotency_key: str
    ) -> None:
        """The card's photo as its own image message, once per outbox row.

        No enable_duplicate_check here: the media_id is cached, so every row showing the same
        photo to the same person (an approval card, then the 待审 copy) would send identical
        JSON and WeCom would drop all but the first within the interval. A retry of this row
        skips the photo once its delivery is recorded instead. (Only an answer lost on the
        image send itself repeats the photo, which beats losing it.)
        """
        sent_key = f"wecom:photo:{idempotency_key}"
        with session_scope(self.state.session_factory) as session:
            if cache_get(session, sent_key, self.state.clock.now()) == ref:
                return
        media_id = unless_image_refused(
            lambda: self._media_id(ref, media),
            log,
            "wecom: image %s refused (%s), card sent without it",
            ref,
        )
        if media_id is None:
            return
        body = {"msgtype": "image", "image": {"media_id": media_id}}
        sent = unless_image_refused(
            lambda: self._send_app_message(recipient, body),
            log,
            "wecom: image %s not sent (%s), card sent without it",
            ref,
        )
        if sent is None:
            # E.g. 40007: the media_id expired early. Forget it: the next card uploads again.
            with session_scope(self.state.session_factory) as session:
                session.execute(delete(KeyValue).where(KeyValue.key == f"wecom:media:{ref}"))
            return
        self._remember(sent_key, ref, self.state.clock.now() + PHOTO_SENT_TTL)

    def _media_id(self, ref: str, media: MediaLoader) -> str | None:
        """Upload an image once (media/upload?type=image) and reuse its media_id for 2 days."""

        def upload() -> str | None:
            payload = media(ref)
            if payload is None:
                log.warning("wecom: image %s not found, card sent without it", ref)
                return None
            upload = (payload.filename, payload.data, payload.mime_type)
            result = self._call("upload", lambda: self.client.media.upload("image", upload))
            media_id = result.get("media_id") if isinstance(result, dict) else None
            if not media_id:
                raise DeliveryError("wecom upload: no media_id", retryable=True)
            return str(media_id)

        return remembered(
            self.state.session_factory,
            f"wecom:media:{ref}",
            now=self.state.clock.now(),
            ttl=MEDIA_TTL,
            produce=upload,
        )

    def _remember(self, key: str, value: str, expires_at: datetime) -> None:
        """Upsert a small kv_cache row in its own transaction."""
        with session_scope(self.state.session_factory) as session:
            cache_put(session, key, value, expires_at)

    def _fresh_response_code(self, task_id: str) -> tuple[str, datetime] | None:
        """Take (and forget) the response_code of the newest click on this task, if unused,
        with its expiry."""
        key = _rc_key(task_id)
        with session_scope(self.state.session_factory) as session:
            row = session.get(KeyValue, key)
            if row is None:
                return None
            taken = (row.value, row.expires_at) if row.expires_at > self.state.clock.now() else None
            session.delete(row)
            return taken

    def _give_back_response_code(self, task_id: str, code: str, expires_at: datetime) -> None:
        """Store an unspent click code again, unless a newer click stored its own meanwhile
        (any row present now was written after this code was taken)."""
        key = _rc_key(task_id)
        with session_scope(self.state.session_factory) as session:
            if session.get(KeyValue, key, populate_existing=True) is not None:
                return
            try:
                with session.begin_nested():
                    session.add(KeyValue(key=key, value=code, expires_at=expires_at))
            except IntegrityError:
                pass  # a click stored its newer code between the check and the insert

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Replace one delivered card (message/update_template_card) with `card`.

        Each response_code works once: a click's code (newest) wins over the send's.
        """
        task_id, user_id = external_ref.get("task_id"), external_ref.get("user_id")
        if not task_id or not user_id:
            return None  # sent as text/markdown: nothing to update in place
        taken = self._fresh_response_code(task_id)
        from_click = taken[0] if taken else None
        code = from_click or external_ref.get("response_code")
        if not code:
            raise DeliveryError(
                f"wecom update: no unused response_code for {task_id}", retryable=False
            )
        data = {
            "userids": [user_id],
            "agentid": self.agent_id,
            "response_code": code,
            "template_card": render_template_card(card, task_id),
        }
        try:
            self._post("update", "message/update_template_card", data)
        except DeliveryError:
            if taken:
                # Not consumed: keep the click's code for the retry (a newer one wins).
                self._give_back_response_code(task_id, *taken)
            raise
        new_ref = dict(external_ref)
        if not from_click:
            new_ref["response_code"] = None
        return new_ref

    def download_image(self, media_ref: str) -> bytes:
        """GET media/get (the SDK's media.download hard-codes the host and has no timeout)."""
        res = self._call(
            "media/get", lambda: self.client.get("media/get", params={"media_id": media_ref})
        )
        if not isinstance(res, requests.Response):
            raise DeliveryError("wecom media/get: not a file", retryable=False)
        content_type = res.headers.get("Content-Type", "")
        if "json" in content_type or "text" in content_type:
            raise DeliveryError(f"wecom media/get: got {content_type}", retryable=False)
        return res.content

    # -- inbound -------------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        """GET/POST /wecom/callback."""
        bp = Blueprint("wecom", __name__, url_prefix="/wecom")
        bp.add_url_rule("/callback", view_func=self.verify_url, methods=["GET"])
        bp.add_url_rule("/callback", view_func=self.callback, methods=["POST"])
        return bp

    def _signature_ok(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> bool:
        """sha1 of the sorted [token, timestamp, nonce, encrypt], compared in constant time."""
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce, encrypt)
        return hmac.compare_digest(signer.signature, signature)

    def _fresh(self, timestamp: str) -> bool:
        try:
            value = int(timestamp)
        except ValueError:
            return False
        return within_window(value, self.state.clock.now(), REPLAY_WINDOW)

    @staticmethod
    def _query() -> tuple[str, str, str]:
        args = request.args
        return args.get("msg_signature", ""), args.get("timestamp", ""), args.get("nonce", "")

    def verify_url(self) -> Any:
        """URL check: echo the decrypted echostr as bare text within 1 s."""
        signature, timestamp, nonce = self._query()
        echostr = request.args.get("echostr", "")
        if not (signature and timestamp and nonce and echostr):
            return plain(400)
        if not self._fresh(timestamp):
            return plain(403)
        if not self._signature_ok(signature, timestamp, nonce, echostr):
            return plain(403)
        try:
            echo = self.crypto.check_signature(signature, timestamp, nonce, echostr)
        except (InvalidSignatureException, InvalidCorpIdException):
            return plain(403)
        except DECRYPT_ERRORS:
            return plain(400)
        return plain(200, echo)

    def callback(self) -> Any:
        """Encrypted message or event: verify → decrypt → dedupe → record → empty 200."""
        signature, timestamp, nonce = self._query()
        body = read_body()
        if not (signature and timestamp and nonce):
            return plain(400)
        encrypt = _encrypt_field(body)
        if encrypt is None:
            return plain(400)
        if not self._fresh(timestamp):
            return plain(403)
        if not self._signature_ok(signature, timestamp, nonce, encrypt):
            return plain(403)
        try:
            xml = self.crypto.decrypt_message({"Encrypt": encrypt}, signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdException):
            return plain(403)
        except DECRYPT_ERRORS:
            return plain(400)
        data = _fields(xml)
        if data is None:
            return plain(400)
        event = self._event(data)
        if event is None:
            return plain(200)
        code = str(data.get("ResponseCode") or "")
        if event.kind == EventKind.CARD_ACTION and code:
            recorded = self._record_click(event, code)
        else:
            recorded = accept_inbound(self.state.engine, event)
        if recorded:
            self.state.notify_worker()
        return plain(200)

    def _record_click(self, event: Event, code: str) -> bool:
        """Record a card click and, on its first delivery, keep its response_code.

        A click's code is the newest unused one for its task; update_card spends it. A
        redelivered click carries a spent code, so only a first delivery stores it.
        """
        with session_scope(self.state.session_factory) as session:
            if record_inbound(session, event) is None:
                return False
            task_id = (event.card_ref or {})["task_id"]
            expires = self.state.clock.now() + RESPONSE_CODE_TTL
            cache_put(session, _rc_key(task_id), code, expires)
        return True

    def _event(self, data: dict[str, str]) -> Event | None:
        """The neutral Event for a decrypted message, or None for events we don't handle."""
        sender = str(data.get("FromUserName") or "")
        if not sender:
            return None
        now = self.state.clock.now()
        common = {
            "platform": self.platform,
            "sender_id": sender,
            "received_at": now,
            "reply_to": {"user_id": sender},
        }
        msg_type = str(data.get("MsgType") or "").lower()
        if msg_type == "event":
            return self._event_of(data, sender, common)
        msg_id = str(data.get("MsgId") or "")
        if not msg_id:
            return None
        key = f"msg:{msg_id}"
        if msg_type == "text":
            return Event(
                kind=EventKind.TEXT,
                dedupe_key=key,
                text=str(data.get("Content") or "")[:1000],
                **common,
            )
        if msg_type == "image" and data.get("MediaId"):
            return Event(
                kind=EventKind.IMAGE, dedupe_key=key, media_ref=str(data["MediaId"]), **common
            )
        if msg_type in OTHER_MESSAGES:
            return Event(kind=EventKind.TEXT, dedupe_key=key, text="", **common)
        return None

    def _event_of(self, data: dict[str, Any], sender: str, common: dict[str, Any]) -> Event | None:
        kind = str(data.get("Event") or "").lower()
        if kind == "enter_agent":
            # WeCom fires enter_agent every time the member opens the app: greet once a day.
            day = common["received_at"].astimezone(self.state.config.tz).date().isoformat()
            return Event(kind=EventKind.ENTER, dedupe_key=f"enter:{sender}:{day}", **common)
        if kind != "template_card_event":
            return None
        value = str(data.get("EventKey") or "")
        task_id = str(data.get("TaskId") or "")
        if not value or not task_id or value == DONE_KEY:
            return None
        # platforms.md §3: FromUserName + CreateTime, plus TaskId + EventKey for card clicks.
        # WeCom's retries repeat CreateTime; a second press of the same button (驳回, 取消,
        # 驳回 again) is a new click with a new ResponseCode. At most 172 characters.
        created = str(data.get("CreateTime") or "")[:20]
        digest = hashlib.sha256(f"{task_id}\n{value}".encode()).hexdigest()[:24]
        return Event(
            kind=EventKind.CARD_ACTION,
            dedupe_key=f"card:{task_id[:80]}:{sender[:40]}:{created}:{digest}",
            action_value=value[:1024],
            card_ref={"task_id": task_id},
            **common,
        )


def _fields(xml: str) -> dict[str, str] | None:
    """The top-level fields of a decrypted message as text, or None when it is not usable XML.

    defusedxml refuses DTDs and entities. Every field the bot reads (MsgType, Content, MediaId,
    Event, EventKey, TaskId, ResponseCode, …) is a direct child of <xml>; nested ones such as
    a card event's SelectedItems are left out. One parse instead of wechatpy's parse_message,
    which would run xmltodict over text already parsed once for safety.
    """
    try:
        root = safe_fromstring(xml, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        return None
    if root.tag != "xml":
        return None
    return {child.tag: (child.text or "").strip() for child in root if len(child) == 0}


def _encrypt_field(body: bytes) -> str | None:
    """The <Encrypt> text of the outer XML, parsed with defusedxml (DTD/entities refused)."""
    try:
        root = safe_fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        return None
    node = root.find("Encrypt")
    if node is None or not (node.text or "").strip():
        return None
    text = node.text.strip()
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return text


def _rc_key(task_id: str) -> str:
    return f"wecom:rc:{task_id}"[:200]
