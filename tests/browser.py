"""A real browser for the browser tests: Debian's chromium driven by Playwright, never a
downloaded browser build, and the app served from a real server thread on 127.0.0.1.

chromium is installed by `.ci/run` (apt) when missing, and by `make test` when run as root;
where none can be had the browser tests are skipped with one line saying so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium floods a closed network with requests.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
NO_BROWSER = "no browser for the browser tests: apt-get install chromium (make test does as root)"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def browser_problem() -> str | None:
    """Why no browser test can run here, or None."""
    if not Path(CHROMIUM).is_file():
        return NO_BROWSER
    try:
        import playwright.sync_api  # noqa: F401  (installed from requirements.txt)
    except ImportError:
        return "playwright is not installed: pip install -r requirements.txt"
    return None


def _fontconfig(workdir: Path) -> Path:
    """A fontconfig file that adds the pip-installed CJK font, so screenshots show Chinese
    even on a machine without a system CJK font."""
    from bot.notices.images import cjk_font_path

    dirs = ["/usr/share/fonts"]
    font = cjk_font_path()
    if font:
        dirs.append(str(Path(font).parent))
    conf = workdir / "fonts.conf"
    entries = "".join(f"<dir>{d}</dir>" for d in dirs)
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
        f"<fontconfig>{entries}<cachedir>{workdir / 'fc-cache'}</cachedir></fontconfig>"
    )
    return conf


@contextmanager
def chromium() -> Iterator[Any]:
    """A persistent chromium context with a fresh profile (Playwright's own launch refuses a
    --user-data-dir flag; the persistent context is how a profile directory is given)."""
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="bot-chromium-"))
    env = {**os.environ, "FONTCONFIG_FILE": str(_fontconfig(workdir))}
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(workdir / "profile"),
                executable_path=CHROMIUM,
                headless=True,
                args=list(FLAGS),
                env=env,
                viewport=PHONE,
                accept_downloads=True,
                locale="zh-CN",
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class LiveServer:
    """The app behind a real HTTP server thread."""

    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self.server.shutdown()
        self.thread.join(10)


def serve(app: Any) -> LiveServer:
    """Serve `app` on 127.0.0.1 on a free port, in a daemon thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="live-server")
    thread.start()
    return LiveServer(f"http://127.0.0.1:{server.server_port}", server, thread)
