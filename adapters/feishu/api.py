"""How Feishu's Open API says token, error and wait, plugged into the shared ApiClient.

Plain REST with `requests` rather than lark-oapi's client: importing lark_oapi takes ~3 s, its
token cache is process-global and keyed by app_id only, and it does not retry on an invalid
token (platforms.md §5). Answers are JSON with an integer `code` (0 = success).
"""

from __future__ import annotations

import re
from typing import Any

import requests

from adapters.common.api import ApiClient
from bot.ports import DeliveryError
from bot.runtime.tokens import TokenCache

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
# What a message_id or image_key must look like to go into an API path or a stored reference.
REF_PART = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")


class FeishuApi(ApiClient):
    """open.feishu.cn for one custom app, under its tenant_access_token."""

    platform = "feishu"
    token_codes = frozenset({"99991661", "99991663", "99991668"})
    # 99991400: the gateway's per-API limit (HTTP 429, or 400 on some old APIs; platforms.md §5).
    # 230020: im/v1/messages' own limit of 5 QPS per user and per group chat. The limit is in
    # Feishu's send-message doc; the code comes from the FAQ's error table (a mirror, not the
    # official page), so it is treated as "wait and retry", which is harmless if it means more.
    rate_limits = {"99991400": None, "230020": None}
    retry_after_header = "x-ogw-ratelimit-reset"
    log_id_header = "X-Tt-Logid"
    token_header = "Authorization"
    token_prefix = "Bearer "
    timeout = (3.05, 10)

    def __init__(self, app_id: str, app_secret: str, *, domain: str, tokens: TokenCache):
        super().__init__(domain, tokens=tokens, token_key=f"feishu:tenant_token:{app_id}")
        self.app_id = app_id
        self._app_secret = app_secret

    def fetch_token(self) -> tuple[str, int]:
        """POST the internal tenant_access_token endpoint. Raises DeliveryError."""
        credentials = {"app_id": self.app_id, "app_secret": self._app_secret}
        body = self.call("token", "POST", TOKEN_PATH, json=credentials, authorized=False).body
        token, expire = (body or {}).get("tenant_access_token"), (body or {}).get("expire")
        if not isinstance(token, str) or not token:
            raise DeliveryError("feishu token: no tenant_access_token", retryable=False)
        if not isinstance(expire, int) or isinstance(expire, bool) or expire <= 0:
            expire = 7200  # the documented lifetime when the answer omits it
        return token, expire

    def read(self, resp: requests.Response) -> tuple[dict[str, Any] | None, str | None]:
        """The JSON object of an answer and its nonzero `code`; "" when it has no usable code."""
        body = None
        if "json" in resp.headers.get("Content-Type", ""):
            try:
                body = resp.json()
            except ValueError:
                body = None
        if not isinstance(body, dict):
            return None, ""
        code = body.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            return body, ""
        return body, (None if code == 0 else str(code))

    def data(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One call's `data` object ({} when absent). Raises DeliveryError."""
        data = (self.call(what, method, path, **kwargs).body or {}).get("data")
        return data if isinstance(data, dict) else {}
