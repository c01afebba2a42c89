"""A leaner requests session for the platforms' Open APIs (outbound)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

# What ApiSession.request handles itself; anything else goes through requests' full path.
_LEAN_KEYS = frozenset(
    {"params", "data", "headers", "files", "json", "timeout", "stream", "allow_redirects"}
)


class ApiSession(requests.Session):
    """A requests Session for JSON Open APIs that skips the per-call work they never need.

    `Session.request` merges cookies, hooks, auth and the environment's proxy, netrc and CA
    settings on every call: about a third of the CPU of a send to a local fake (bench/
    callbacks.py, outbox rate). Here the environment is read once per scheme and host (so
    HTTPS_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE still apply) and no cookies are kept. A GET
    answered with a redirect is asked again through the full path, which follows it; other
    methods are not redirected. Streaming and any other option take the full path. Responses
    are ordinary `requests.Response` objects, so SDKs built on requests (wechatpy) work
    unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def _settings(self, url: str) -> dict[str, Any]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        settings = self._environment.get(key)
        if settings is None:
            settings = self.merge_environment_settings(url, {}, False, None, None)
            self._environment[key] = settings
        return settings

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, **kwargs: Any
    ) -> requests.Response:
        if (
            isinstance(method, bytes)
            or isinstance(url, bytes)
            or not set(kwargs) <= _LEAN_KEYS
            or kwargs.get("stream")
        ):
            return super().request(method, url, **kwargs)
        headers = CaseInsensitiveDict(self.headers)
        if kwargs.get("headers"):
            headers.update(kwargs["headers"])
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method.upper(),
            url=url,
            headers=headers,
            files=kwargs.get("files"),
            data=kwargs.get("data") or {},
            json=kwargs.get("json"),
            params=kwargs.get("params") or {},
        )
        settings = self._settings(url)
        response = self.get_adapter(url).send(
            prepared,
            stream=False,
            timeout=kwargs.get("timeout"),
            verify=settings["verify"],
            cert=settings["cert"],
            proxies=settings["proxies"],
        )
        follow = kwargs.get("allow_redirects", True)
        if response.is_redirect and follow and prepared.method in ("GET", "HEAD"):
            response.close()
            return super().request(method, url, **kwargs)
        _ = response.content  # read it all now: this returns the connection to the pool
        return response
