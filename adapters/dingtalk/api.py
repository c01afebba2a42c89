"""How DingTalk's two APIs say token, error and wait, plugged into the shared ApiClient.

The v1.0 API (`api.dingtalk.com`) takes its token in the `x-acs-dingtalk-access-token` header and
answers errors with an HTTP status and a string `code`; the old oapi (`oapi.dingtalk.com`) takes
`access_token` in the query and answers HTTP 200 with an `errcode`. Plain `requests`: dingtalk-sdk
has no v1.0 client and its TOP calls ignore the base URL (platforms.md §4).
"""

from __future__ import annotations

from typing import Any

import requests

from adapters.common.api import ApiClient

TIMEOUT = (5, 15)  # connect, read (seconds): never hang the worker
# Throttling answers, matched exactly (oapi `errcode` or v1.0 `code`), with the wait in seconds
# when the source gives one; None leaves it to the outbox's backoff (first retry after 5 s).
# By exact code, never by a substring: `InvalidParameter.LengthLimit` is permanent however it
# is spelled.
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


class DingtalkApi(ApiClient):
    """The v1.0 API with the app's accessToken (HTTP 401 or InvalidAuthentication: refetch)."""

    platform = "dingtalk"
    token_codes = frozenset({"InvalidAuthentication"})
    rate_limits = THROTTLED
    token_header = "x-acs-dingtalk-access-token"
    timeout = TIMEOUT

    def __init__(self, app_key: str, app_secret: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.app_key = app_key
        self._app_secret = app_secret

    def fetch_token(self) -> tuple[str, int]:
        """POST /v1.0/oauth2/accessToken. Raises DeliveryError."""
        credentials = {"appKey": self.app_key, "appSecret": self._app_secret}
        answer = self.call(
            "accessToken", "POST", "/v1.0/oauth2/accessToken", json=credentials, authorized=False
        )
        data = answer.body or {}
        if not data.get("accessToken"):
            raise self.error("accessToken", "POST", answer.response, "")
        return data["accessToken"], int(data.get("expireIn") or 7200)

    def read(self, resp: requests.Response) -> tuple[dict[str, Any] | None, str | None]:
        """The answer's object ({} when none); anything but HTTP 200 is an error."""
        data = _json(resp)
        return data, (None if resp.status_code == 200 else _code(data))


class DingtalkOapi(ApiClient):
    """The old oapi with its own access_token (errcode 40001, 40014, 41001, 42001: refetch);
    its errcode answers also come from a conversation's sessionWebhook."""

    platform = "dingtalk"
    code_name = "errcode"
    token_codes = frozenset({"40001", "40014", "41001", "42001"})
    rate_limits = THROTTLED
    token_query = "access_token"
    timeout = TIMEOUT

    def __init__(self, app_key: str, app_secret: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.app_key = app_key
        self._app_secret = app_secret

    def fetch_token(self) -> tuple[str, int]:
        """GET /gettoken?appkey&appsecret. Raises DeliveryError."""
        params = {"appkey": self.app_key, "appsecret": self._app_secret}
        answer = self.call("gettoken", "GET", "/gettoken", params=params, authorized=False)
        data = answer.body or {}
        if not data.get("access_token"):
            raise self.error("gettoken", "GET", answer.response, "")
        return data["access_token"], int(data.get("expires_in") or 7200)

    def read(self, resp: requests.Response) -> tuple[dict[str, Any] | None, str | None]:
        """The answer's object ({} when none); an error unless HTTP 200 without an errcode."""
        data = _json(resp)
        ok = resp.status_code == 200 and not data.get("errcode")
        return data, (None if ok else _code(data))


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _code(data: dict[str, Any]) -> str:
    return str(data.get("code") or data.get("errcode") or "")
