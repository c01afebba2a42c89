"""The Open API client every platform shares: tokens, one retry, timeouts, one error mapping.

A call takes the platform token from the shared TokenCache (one fetch across processes,
platforms.md §2 rule 5), sends the request over an ApiSession with a timeout, and reads the
answer. When the platform says the token is invalid or expired, the token is forgotten,
fetched again and the call retried exactly once: tokens die before their expiry on every
platform (platforms.md §3, §4, §5). Every failure becomes one DeliveryError: retryable for 5xx,
429, timeouts, connection errors and the platform's own rate-limit or busy codes, with
`retry_after` from the platform's header; not retryable otherwise. Its message names the call,
the HTTP status and the error code, never a token or a secret.

A platform subclasses ApiClient and plugs in how it fetches a token (`fetch_token`) and how it
reads an error code from an answer (`read`), and names its codes in class constants.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from urllib3.exceptions import HTTPError as TransportError

from adapters.common.session import ApiSession
from bot.ports import DeliveryError
from bot.runtime.tokens import TokenCache

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 3600.0  # a wait header beyond an hour is not believed


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: the response, its JSON object (None when it has none) and, for a
    download, the file's bytes."""

    response: requests.Response
    body: dict[str, Any] | None
    content: bytes | None = None


class ApiClient:
    """One platform's Open API under one app token; subclasses plug in the platform's ways."""

    platform: ClassVar[str] = ""
    code_name: ClassVar[str] = "code"  # what the platform calls its error code, for messages
    token_codes: ClassVar[frozenset[str]] = frozenset()  # "this token is invalid or expired"
    busy_codes: ClassVar[frozenset[str]] = frozenset()  # "try again": retryable, no wait given
    # Rate-limit codes → seconds to wait when the platform's header says nothing (None: the
    # outbox's own backoff).
    rate_limits: ClassVar[Mapping[str, float | None]] = {}
    retry_after_header: ClassVar[str] = "Retry-After"
    log_id_header: ClassVar[str | None] = None  # logged with a refusal when the platform has one
    token_query: ClassVar[str | None] = None  # the token as a query parameter …
    token_header: ClassVar[str | None] = None  # … or as a header, after token_prefix
    token_prefix: ClassVar[str] = ""
    timeout: ClassVar[tuple[float, float]] = (5, 15)  # connect, read: never hang the worker

    def __init__(
        self, base: str, *, tokens: TokenCache, token_key: str, http: ApiSession | None = None
    ):
        self.base = base
        self.tokens = tokens
        self.token_key = token_key
        self.http = http or ApiSession()

    # -- what a platform plugs in ------------------------------------------------------------

    def fetch_token(self) -> tuple[str, int]:
        """A new token and its lifetime in seconds. Raises DeliveryError."""
        raise NotImplementedError

    def read(self, resp: requests.Response) -> tuple[dict[str, Any] | None, str | None]:
        """The answer's JSON object and error code (None: success; "": a failure without one)."""
        raise NotImplementedError

    # -- calls ---------------------------------------------------------------------------------

    def call(
        self,
        what: str,
        method: str,
        path: str,
        *,
        authorized: bool = True,
        timeout: tuple[float, float] | None = None,
        file_limit: int | None = None,
        **kwargs: Any,
    ) -> Answer:
        """One API call (`path` under the base, or a full URL) with params/json/data/files.

        Raises:
            DeliveryError: see the module docstring for what is retryable.
        """
        for attempt in (1, 2):
            token = self.tokens.get(self.token_key, self.fetch_token) if authorized else None
            stream = file_limit is not None
            resp = self._request(what, method, path, token, timeout, stream=stream, **kwargs)
            if file_limit is not None:
                content = self._file(what, resp, file_limit)
                if content is not None:
                    return Answer(resp, None, content)
            body, code = self.read(resp)
            if code is None and resp.status_code < 400:
                return Answer(resp, body)
            if token is not None and attempt == 1 and self.is_token_rejected(resp, code):
                log.info("%s %s: token rejected (%s), refetching", self.platform, what, code)
                self.tokens.invalidate(self.token_key)
                continue
            raise self.error(what, method, resp, code)
        raise AssertionError("unreachable")

    def download(self, what: str, path: str, *, limit: int, **kwargs: Any) -> bytes:
        """GET a file, at most `limit` + 1 bytes (enough for a size check to refuse it).

        Raises:
            DeliveryError: as `call`, and not retryable for an answer that is not a file.
        """
        answer = self.call(what, "GET", path, file_limit=limit, **kwargs)
        if answer.content is None:
            content_type = answer.response.headers.get("Content-Type", "")[:40]
            raise DeliveryError(f"{self.platform} {what}: got {content_type}", retryable=False)
        return answer.content

    def _file(self, what: str, resp: requests.Response, limit: int) -> bytes | None:
        """A streamed answer's bytes when it is a file; None (body read) for JSON, text, errors."""
        content_type = resp.headers.get("Content-Type", "")
        is_file = "json" not in content_type and not content_type.startswith("text/")
        with resp:
            try:
                if resp.status_code < 400 and is_file:
                    return resp.raw.read(limit + 1, decode_content=True)
                _ = resp.content  # an answer to read for its code
            except (requests.RequestException, TransportError) as exc:
                raise DeliveryError(f"{self.platform} {what}: {type(exc).__name__}") from None
        return None

    def _request(
        self,
        what: str,
        method: str,
        path: str,
        token: str | None,
        timeout: tuple[float, float] | None,
        **kwargs: Any,
    ) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else self.base + path
        if token is not None:
            if self.token_query:
                kwargs["params"] = {**(kwargs.get("params") or {}), self.token_query: token}
            if self.token_header:
                headers = kwargs.get("headers") or {}
                kwargs["headers"] = {**headers, self.token_header: self.token_prefix + token}
        try:
            return self.http.request(method, url, timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException as exc:
            # The class name only (ConnectionError, ReadTimeout): the text may hold the URL.
            raise DeliveryError(f"{self.platform} {what}: {type(exc).__name__}") from None

    # -- failures ------------------------------------------------------------------------------

    def is_token_rejected(self, resp: requests.Response, code: str | None) -> bool:
        """True when the answer says the token itself is invalid or expired."""
        return resp.status_code == 401 or code in self.token_codes

    def error(
        self, what: str, method: str, resp: requests.Response, code: str | None
    ) -> DeliveryError:
        """The DeliveryError for a failed answer (see the module docstring)."""
        status = resp.status_code
        limited = status == 429 or code in self.rate_limits
        retryable = (
            limited
            or status >= 500
            or code in self.busy_codes
            or self.is_token_rejected(resp, code)
        )
        message = f"{self.platform} {what}: HTTP {status}"
        if code:
            message += f" {self.code_name} {code}"
        if limited:
            message += " (rate limited)"
        if not retryable and self.log_id_header:
            # The platform's request id is what its support asks for.
            log.warning("%s %s | log_id %s", method, message, resp.headers.get(self.log_id_header))
        retry_after = self.retry_after(resp, code) if retryable else None
        return DeliveryError(message[:300], retryable=retryable, retry_after=retry_after)

    def retry_after(self, resp: requests.Response, code: str | None) -> float | None:
        """Seconds to wait: the platform's header if it gives one, else the code's own wait."""
        try:
            value = float(resp.headers.get(self.retry_after_header, ""))
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value > 0:
            return min(value, MAX_RETRY_AFTER)
        return self.rate_limits.get(code) if code else None
