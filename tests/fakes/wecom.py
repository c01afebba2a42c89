"""A fake WeCom Open API (on tests/fakes/server.py) and inbound callbacks built as WeCom builds them.

Outbound: `FakeWecom` serves gettoken, message/send, message/update_template_card, media/upload
and media/get under /cgi-bin/, checks the access token on every call, drops a repeated send with
`enable_duplicate_check`, can answer a 5xx or an expired-token errcode once, and can run a
hook while a call is in flight. Inbound: `WecomCallbacks` encrypts plaintext XML with PrpCrypto
(AES-256-CBC, PKCS#7 to 32 bytes, CorpID as receiveid) and signs it (sha1 of the sorted
[token, timestamp, nonce, encrypt]), then posts it to /wecom/callback.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import WeChatSigner, to_text

from tests.fakes.server import FakeServer, Recorded, Reply

CORP_ID = "wwfakecorp0001"
AGENT_ID = "1000002"
SECRET = "fake-secret-0123456789abcdef"
TOKEN = "fakecallbacktoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
BASE = "/cgi-bin/"
TOUSER_MAX = 1000  # message/send: "多个接收者用‘|’分隔，最多支持1000个" (path/90236)


@dataclass
class FakeWecom:
    """Recording fake of qyapi.weixin.qq.com/cgi-bin/ with scripted failures."""

    server: FakeServer = field(default_factory=FakeServer)
    media: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.valid_tokens: set[str] = set()
        self._failures: dict[str, list[Reply]] = {}
        self._hooks: dict[str, list[Callable[[Recorded], None]]] = {}
        self.uploads: dict[str, bytes] = {}
        self._seen_sends: set[str] = set()  # bodies sent with enable_duplicate_check
        self.invalid_users: set[str] = set()  # members outside the app's visible range
        for method, name, fn in (
            ("GET", "gettoken", self._gettoken),
            ("POST", "message/send", self._send),
            ("POST", "message/update_template_card", self._update),
            ("POST", "media/upload", self._upload),
            ("GET", "media/get", self._media_get),
        ):
            self.server.route(method, BASE + name, self._guard(name, fn))

    # -- control -------------------------------------------------------------------------------

    def start(self) -> FakeWecom:
        """Start serving (polling fast: stop() waits out one serve_forever poll interval)."""
        httpd = self.server.httpd
        self.server.thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop; fails the test if an unknown path was hit."""
        self.server.stop()

    @property
    def base_url(self) -> str:
        """WECOM_API_BASE for the adapter."""
        return self.server.url + BASE

    def fail_next(self, name: str, reply: Reply, times: int = 1) -> None:
        """Answer the next `times` calls of `name` (e.g. "message/send") with `reply`."""
        with self._lock:
            self._failures.setdefault(name, []).extend([reply] * times)

    def on_next_call(self, name: str, hook: Callable[[Recorded], None]) -> None:
        """Run `hook(request)` when the next call of `name` arrives, before it is answered
        (something that happens while the bot waits for WeCom, e.g. another click)."""
        with self._lock:
            self._hooks.setdefault(name, []).append(hook)

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (42001) until gettoken is called again."""
        with self._lock:
            self.valid_tokens.clear()

    # -- assertions ----------------------------------------------------------------------------

    def calls(self, name: str) -> list[Recorded]:
        """Requests received on /cgi-bin/<name>."""
        return self.server.calls(BASE + name)

    def sent(self, touser: str | None = None, msgtype: str | None = None) -> list[dict[str, Any]]:
        """Delivered message/send bodies (token valid, no scripted failure, not dropped by the
        duplicate check), oldest first."""
        out = []
        for rec in self.calls("message/send"):
            if getattr(rec, "accepted", False) and not getattr(rec, "duplicate", False):
                body = rec.json()
                if (touser is None or touser in body["touser"].split("|")) and (
                    msgtype is None or body["msgtype"] == msgtype
                ):
                    out.append(body)
        return out

    def texts(self, touser: str) -> list[str]:
        """Text contents delivered to `touser`."""
        return [b["text"]["content"] for b in self.sent(touser, "text")]

    def cards(self, touser: str) -> list[dict[str, Any]]:
        """template_card objects delivered to `touser`."""
        return [b["template_card"] for b in self.sent(touser, "template_card")]

    def updates(self) -> list[dict[str, Any]]:
        """Accepted update_template_card bodies."""
        return [
            r.json()
            for r in self.calls("message/update_template_card")
            if getattr(r, "accepted", False)
        ]

    # -- routes --------------------------------------------------------------------------------

    def _guard(self, name: str, fn: Any) -> Any:
        def route(rec: Recorded) -> Reply:
            with self._lock:
                hooks = self._hooks.get(name)
                hook = hooks.pop(0) if hooks else None
                queue = self._failures.get(name)
                scripted = queue.pop(0) if queue else None
            if hook is not None:
                hook(rec)
            if scripted is not None:
                return scripted
            if name != "gettoken":
                token = (rec.query.get("access_token") or [""])[0]
                with self._lock:
                    valid = token in self.valid_tokens
                if not valid:
                    return Reply(200, {"errcode": 42001, "errmsg": "access_token expired"})
            reply = fn(rec)
            rec.accepted = reply.status == 200 and not (  # type: ignore[attr-defined]
                isinstance(reply.body, dict) and reply.body.get("errcode")
            )
            return reply

        return route

    def _gettoken(self, rec: Recorded) -> Reply:
        q = {k: v[0] for k, v in rec.query.items()}
        if q.get("corpid") != CORP_ID or q.get("corpsecret") != SECRET:
            return Reply(200, {"errcode": 40013, "errmsg": "invalid corpid"})
        token = f"tok-{next(self._seq)}"
        with self._lock:
            self.valid_tokens.add(token)
        return Reply(200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    def _send(self, rec: Recorded) -> Reply:
        body = rec.json()
        n = next(self._seq)
        members = [u for u in str(body.get("touser") or "").split("|") if u]
        if len(members) > TOUSER_MAX:
            # The documented maximum is 1000 members per call; what WeCom answers beyond it is
            # not documented, so the fake refuses loudly and the test sees it.
            return Reply(400, {"errcode": -1, "errmsg": "fake: more than 1000 members"})
        invalid = [u for u in members if u in self.invalid_users]
        if members and len(invalid) == len(members):
            return Reply(200, {"errcode": 81013, "errmsg": "user & party & tag all invalid"})
        if body.get("enable_duplicate_check") == 1:
            # "同样内容(请求json)的消息,不会重复收到" within duplicate_check_interval (every test
            # is shorter than it). What WeCom answers is not documented: ok, no response_code.
            content = json.dumps(body, sort_keys=True, ensure_ascii=False)
            with self._lock:
                duplicate = content in self._seen_sends
                self._seen_sends.add(content)
            if duplicate:
                rec.duplicate = True  # type: ignore[attr-defined]
                return Reply(200, {"errcode": 0, "errmsg": "ok", "msgid": f"msg-{n}"})
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": f"msg-{n}"}
        if invalid:
            answer["invaliduser"] = "|".join(u.lower() for u in invalid)
        if body.get("msgtype") == "template_card":
            answer["response_code"] = f"rc-send-{n}"
        return Reply(200, answer)

    def _update(self, rec: Recorded) -> Reply:
        return Reply(200, {"errcode": 0, "errmsg": "ok", "invaliduser": []})

    def _upload(self, rec: Recorded) -> Reply:
        media_id = f"up-{next(self._seq)}"
        self.uploads[media_id] = rec.body
        return Reply(200, {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": media_id})

    def _media_get(self, rec: Recorded) -> Reply:
        media_id = (rec.query.get("media_id") or [""])[0]
        data = self.media.get(media_id)
        if data is None:
            return Reply(200, {"errcode": 40007, "errmsg": "invalid media_id"})
        return Reply(200, raw=data, headers={"Content-Type": "image/jpeg"})


_msg_ids = itertools.count(7_000_000_000_000_000_001)


@dataclass
class WecomCallbacks:
    """Builds and posts callbacks exactly as WeCom does (encrypted, signed, query string)."""

    client: Any
    now: Any  # () -> int unix seconds (the test clock)
    token: str = TOKEN
    aes_key: str = AES_KEY
    corp_id: str = CORP_ID

    def encrypt(self, plaintext: str, corp_id: str | None = None) -> str:
        """base64(AES-CBC(random16 ‖ len ‖ msg ‖ corp_id)) with the app's EncodingAESKey."""
        crypto = WeChatCrypto(self.token, self.aes_key, self.corp_id)
        return to_text(PrpCrypto(crypto.key).encrypt(plaintext, corp_id or self.corp_id))

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """msg_signature: sha1 of the sorted [token, timestamp, nonce, encrypt]."""
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce, encrypt)
        return signer.signature

    def query(
        self, encrypt: str, *, timestamp: int | None = None, signature: str | None = None
    ) -> str:
        """The callback query string for an Encrypt value."""
        ts = str(self.now() if timestamp is None else timestamp)
        nonce = "nonce123"
        sig = signature or self.signature(ts, nonce, encrypt)
        return urlencode({"msg_signature": sig, "timestamp": ts, "nonce": nonce})

    def verify_url(self, echo: str, **kw: Any) -> Any:
        """GET /wecom/callback with an encrypted echostr."""
        encrypt = self.encrypt(echo)
        return self.client.get(f"/wecom/callback?{self.query(encrypt, **kw)}&echostr={_q(encrypt)}")

    def post_xml(self, plaintext: str, *, corp_id: str | None = None, **kw: Any) -> Any:
        """POST an encrypted message body (the outer envelope WeCom sends)."""
        encrypt = self.encrypt(plaintext, corp_id)
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )
        return self.post_raw(body.encode(), encrypt, **kw)

    def post_raw(self, body: bytes, encrypt: str = "", **kw: Any) -> Any:
        """POST an arbitrary body, signed over `encrypt`."""
        return self.client.post(
            f"/wecom/callback?{self.query(encrypt, **kw)}", data=body, content_type="text/xml"
        )

    def _envelope(self, user: str, msg_type: str, inner: str, created: int | None = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{created or self.now()}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{inner}"
            f"<AgentID>{AGENT_ID}</AgentID></xml>"
        )

    def text_xml(self, user: str, content: str, msg_id: int | None = None) -> str:
        """The plaintext XML of a text message from `user` (what `text` encrypts)."""
        inner = f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or next(_msg_ids)}</MsgId>"
        return self._envelope(user, "text", inner)

    def text(self, user: str, content: str, msg_id: int | None = None, **kw: Any) -> Any:
        """A text message from `user`."""
        return self.post_xml(self.text_xml(user, content, msg_id), **kw)

    def image(self, user: str, media_id: str, msg_id: int | None = None, **kw: Any) -> Any:
        """An image message from `user` (the fake serves `media_id` on media/get)."""
        inner = (
            "<PicUrl><![CDATA[https://wework.qpic.cn/fake]]></PicUrl>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id or next(_msg_ids)}</MsgId>"
        )
        return self.post_xml(self._envelope(user, "image", inner), **kw)

    def click(
        self,
        user: str,
        task_id: str,
        key: str,
        response_code: str = "rc-click",
        created: int | None = None,
        **kw: Any,
    ) -> Any:
        """A template_card_event: `user` tapped the button `key` on the card `task_id`."""
        inner = (
            "<Event><![CDATA[template_card_event]]></Event>"
            f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task_id}]]></TaskId>"
            "<CardType><![CDATA[button_interaction]]></CardType>"
            f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode>"
        )
        return self.post_xml(self._envelope(user, "event", inner, created), **kw)

    def event(self, user: str, name: str, created: int | None = None, **kw: Any) -> Any:
        """Any other event (enter_agent, subscribe, …)."""
        inner = f"<Event><![CDATA[{name}]]></Event><EventKey><![CDATA[]]></EventKey>"
        return self.post_xml(self._envelope(user, "event", inner, created), **kw)


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def env(fake: FakeWecom) -> dict[str, str]:
    """The WECOM_* variables pointing the adapter at `fake`."""
    return {
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": AGENT_ID,
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE": fake.base_url,
    }


__all__ = ["FakeWecom", "WecomCallbacks", "env"]
