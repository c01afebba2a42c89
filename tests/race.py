"""A worker process for the concurrency tests: builds the app on the shared database, waits
for its sibling at a barrier, then handles every due inbound event it can take."""

from __future__ import annotations

import os
from typing import Any


def drain_inbound(env: dict[str, str], start: Any, results: Any) -> None:
    """Run in a spawned process: handle inbound events until none is left for this worker."""
    os.environ.update(env)
    from bot.app import bot_state, create_app
    from bot.clock import FixedClock
    from bot.config import load_config
    from tests.conftest import START

    app = create_app({"CONFIG": load_config(env), "CLOCK": FixedClock(START)})
    worker = bot_state(app).worker
    start.wait(60)
    handled = 0
    while True:
        done = worker.process_inbound(limit=1)
        if not done:
            break
        handled += done
    results.put(handled)
    bot_state(app).engine.dispose()
