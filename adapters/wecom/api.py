"""How WeCom's Open API says token, error and wait, plugged into the shared ApiClient.

Plain HTTP as wechatpy 1.8.18 sends it (`access_token` in the query, JSON bodies encoded with
ensure_ascii=False), but not through its WeChatClient: that hard-codes the gettoken host, sets
no timeout and keeps its token in one process (platforms.md §3).
"""

from __future__ import annotations

import json
from typing import Any

import requests

from adapters.common.api import ApiClient
from bot.ports import DeliveryError
from bot.runtime.tokens import TokenCache


class WecomApi(ApiClient):
    """qyapi.weixin.qq.com/cgi-bin/ for one self-built app."""

    platform = "wecom"
    code_name = "errcode"
    # Invalid credential, invalid token, expired token: wechatpy's own auto_retry set.
    token_codes = frozenset({"40001", "40014", "42001"})
    busy_codes = frozenset({"-1"})  # system busy
    rate_limits = {"45009": None, "45033": None}  # API rate limit, too many concurrent calls
    token_query = "access_token"
    timeout = (5, 20)

    def __init__(self, corp_id: str, secret: str, *, base: str, tokens: TokenCache, token_key: str):
        super().__init__(base, tokens=tokens, token_key=token_key)
        self.corp_id = corp_id
        self._secret = secret

    def fetch_token(self) -> tuple[str, int]:
        """GET {base}gettoken with a timeout. Raises DeliveryError."""
        params = {"corpid": self.corp_id, "corpsecret": self._secret}
        body = self.call("gettoken", "GET", "gettoken", params=params, authorized=False).body
        token = (body or {}).get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryError("wecom gettoken: no access_token", retryable=False)
        return token, int((body or {}).get("expires_in", 7200))

    def read(self, resp: requests.Response) -> tuple[dict[str, Any] | None, str | None]:
        """The JSON object of an answer and its nonzero errcode (as wechatpy decodes it)."""
        if resp.status_code >= 400:
            return None, None  # the status says it all (wechatpy raises before the body)
        try:
            body = json.loads(resp.content.decode("utf-8", "ignore"), strict=False)
        except ValueError:
            return None, None  # a file (media/get), or not JSON at all
        if not isinstance(body, dict):
            return None, None
        errcode = body.get("errcode")
        return body, (str(errcode) if errcode not in (None, 0, "0") else None)

    def post(self, what: str, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body to `endpoint`; the answer's object. Raises DeliveryError."""
        body = json.dumps(data, ensure_ascii=False).encode()
        answer = self.call(what, "POST", endpoint, data=body).body
        if answer is None:
            raise DeliveryError(f"wecom {what}: unexpected answer", retryable=True)
        return answer
