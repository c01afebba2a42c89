"""What a handler gets besides the Event: the session, the time and a few injected services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.models import Employee
from bot.ports import Event
from bot.services.claims import ClaimContext
from bot.services.review import SECOND_APPROVAL_DEFAULT
from bot.signing import Signer


@dataclass
class HandlerContext:
    """One turn: the session (committed by the caller), the clock reading and the sender."""

    session: Session
    now: datetime
    tz: ZoneInfo
    signer: Signer
    media_dir: Path
    event: Event
    sender: Employee
    fetch_media: Callable[[str], bytes]
    second_approval_points: int = SECOND_APPROVAL_DEFAULT

    @property
    def claims(self) -> ClaimContext:
        """The claim service's context."""
        return ClaimContext(
            now=self.now,
            tz=self.tz,
            signer=self.signer,
            second_approval_points=self.second_approval_points,
        )

    def sign(self, name: str, object_id: int, arg: str = "") -> str:
        """A button value only the sender may press."""
        return self.signer.sign(name, object_id, self.sender.id, self.now, arg)
