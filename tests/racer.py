"""A second worker process for the concurrency tests: `python -m tests.racer NOW THREADS`.

It builds the app from the environment (DATABASE_URL, BOT_MEDIA_DIR, … as the test app has them)
with a fixed clock at NOW, says `ready`, waits for a line on stdin so that every racer starts at
once, then handles the recorded inbound events with THREADS worker threads released together,
and prints how many events it handled.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import datetime

from bot.app import bot_state, create_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.db import make_engine
from bot.runtime.worker import Worker


def race(state, threads: int) -> int:
    """Handle due inbound events with `threads` workers started together; events handled."""
    gate = threading.Barrier(threads)
    counts: list[int] = []

    def work() -> None:
        worker = Worker(state)
        gate.wait(timeout=30)
        counts.append(worker.process_inbound())

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    return sum(counts)


def main() -> None:
    now, threads = datetime.fromisoformat(sys.argv[1]), int(sys.argv[2])
    config = load_config(dict(os.environ))
    engine = make_engine(config.database_url)
    app = create_app({"CONFIG": config, "CLOCK": FixedClock(now), "ENGINE": engine})
    print("ready", flush=True)
    sys.stdin.readline()
    print(race(bot_state(app), threads), flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
