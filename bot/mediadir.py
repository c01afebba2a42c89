"""Whether the media directory (photos, thumbnails, generated images) takes writes: checked by
/readyz and where a write failed, so a broken disk is said once in the log, not per request."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class MediaDir:
    """The media directory's health, shared by the process's requests and worker."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._problem: str | None = None

    def check(self) -> str | None:
        """Try a write; the problem ("media directory not writable: PATH"), or None."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.path, prefix=".probe-"):
                pass
        except OSError as exc:
            return self.failed(exc)
        self._set(None)
        return None

    def failed(self, exc: OSError) -> str:
        """Note a write under the directory that failed; returns the problem."""
        problem = f"media directory not writable: {self.path}"
        if self._set(problem):
            log.error("%s (%s)", problem, exc.strerror or type(exc).__name__)
        return problem

    def _set(self, problem: str | None) -> bool:
        """Record the state; True when it changed."""
        with self._lock:
            changed, self._problem = self._problem != problem, problem
        if changed and problem is None:
            log.info("media directory writable again: %s", self.path)
        return changed
