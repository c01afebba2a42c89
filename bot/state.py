"""BotState: what a request, job or worker needs, built once by the composition root (bot/app.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.mediadir import MediaDir
from bot.platforms import Limit, rate_limits
from bot.ports import Adapter
from bot.signing import Signer


@dataclass
class BotState:
    """Configuration, database, clock, signer and the wired parts; at app.extensions['bot'].

    `dispatch` is the handlers' router (set by bot/app.py): the worker hands it each turn
    without importing it.
    """

    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    signer: Signer
    adapters: dict[str, Adapter] = field(default_factory=dict)
    dispatch: Callable[[Any], list[Any]] | None = None
    worker: Any = None
    rate_limits: dict[str, dict[str, tuple[Limit, ...]]] = field(default_factory=rate_limits)
    media: MediaDir = field(init=False)

    def __post_init__(self) -> None:
        self.media = MediaDir(self.config.media_dir)

    def notify_worker(self) -> None:
        """Wake the in-process worker, if any, after queuing work."""
        if self.worker is not None:
            self.worker.notify()
