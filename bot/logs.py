"""Logging for every role (design §16): one JSON object a line in production, readable text in
development, each line carrying the dedupe key of the event being handled when there is one.

The key travels in a context variable: whatever logs while an event is handled (the worker's
one line per event, a handler's error, a delivery warning it causes) names it without passing
it down through every call.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

EVENT_KEY: ContextVar[str | None] = ContextVar("event_key", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(key_suffix)s"
# Libraries that speak at INFO on every tick: APScheduler announces each run of the lease
# renewal ("Running job …", "… executed successfully") every 20 s, Alembic each readiness probe.
QUIET = (
    "apscheduler.executors.default",
    "apscheduler.scheduler",
    "alembic.runtime.plugins",
    "alembic.runtime.migration",
)
# LogRecord attributes that are not extra fields (anything else given as extra= is logged).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "key_suffix"}


@contextmanager
def event_context(dedupe_key: str | None) -> Iterator[None]:
    """Within the block, every log line names `dedupe_key`."""
    token = EVENT_KEY.set(dedupe_key)
    try:
        yield
    finally:
        EVENT_KEY.reset(token)


class EventKeyFilter(logging.Filter):
    """Puts the current event's dedupe key on each record (`dedupe_key`, `key_suffix`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = getattr(record, "dedupe_key", None) or EVENT_KEY.get()
        record.dedupe_key = key
        record.key_suffix = f" [key={key[:80]}]" if key else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, dedupe_key, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        key = getattr(record, "dedupe_key", None)
        if key:
            data["dedupe_key"] = key
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in data and name != "dedupe_key":
                data[name] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """Configure the root logger once for a process (CLI roles, gunicorn's wsgi.py)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(EventKeyFilter())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
