"""What every callback route shares: the body cap, the replay window and plain answers."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, request

MAX_BODY = 1024 * 1024  # design §11: over 1 MB → 413 before reading it all


def read_body(limit: int = MAX_BODY) -> bytes:
    """The raw request body, refusing (413) anything over `limit` without reading it all."""
    length = request.content_length
    if length is not None and length > limit:
        abort(413)
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        abort(413)
    return data


def within_window(timestamp: float, now: datetime, window_seconds: float) -> bool:
    """True when a sender's timestamp (seconds) is within ±window of now (replay check)."""
    return abs(now.timestamp() - timestamp) <= window_seconds


def plain(status: int, body: str = "") -> Response:
    """A short text/plain answer (no detail for refusals)."""
    return Response(body, status=status, mimetype="text/plain")
