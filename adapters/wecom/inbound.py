"""WeCom inbound: `GET /wecom/callback` answers the URL check with the decrypted echostr;
`POST /wecom/callback` takes encrypted XML (messages, enter_agent, template_card_event clicks),
verifies, decrypts, dedupes and records an Event, then answers an empty 200 (platforms.md §3).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring
from flask import Blueprint, request
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import WeChatSigner

from adapters.common.inbound import plain, read_body, within_window
from adapters.wecom.render import DONE_KEY
from adapters.wecom.response_codes import keep_click_code
from bot.db import session_scope
from bot.errors import ConfigError
from bot.ports import Event, EventKind
from bot.services.inbound import accept_inbound, record_inbound

if TYPE_CHECKING:
    from bot.state import BotState

REPLAY_WINDOW = 300  # design §11: WeCom timestamps ±5 min
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


class WecomInbound:
    """The callback route of one WeCom self-built app."""

    platform = "wecom"

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.state = state
        self.token = cfg["WECOM_TOKEN"]
        try:
            self.crypto = WeChatCrypto(self.token, cfg["WECOM_AES_KEY"], cfg["WECOM_CORP_ID"])
        except (binascii.Error, ValueError, AssertionError):
            raise ConfigError("WECOM_AES_KEY: not a valid EncodingAESKey") from None

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
            keep_click_code(session, task_id, code, self.state.clock.now(), event.sender_id)
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
