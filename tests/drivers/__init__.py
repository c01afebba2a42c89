"""One small driver per platform with the same verbs, so a scenario is written once and run over
every adapter (tests/test_scenarios.py): send text, send a photo, press a button by its label,
what the platform delivered to a person, the newest card a person got.

A driver talks to the app the way its platform does (inbound built, encrypted and signed by the
helpers in tests/fakes/ or posted to the local chat's routes by tests/localchat.py) and reads
what the far end received (the fake Open API server on 127.0.0.1, or the local chat's rows).
Cards are read back from the platform's own JSON into a `SeenCard`: what the person sees now,
after every update the platform was asked to make.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.models import Employee


@dataclass(frozen=True)
class SeenCard:
    """A card as one person sees it now on their platform.

    `values` maps each button still pressable to what the platform sends back when it is
    pressed; `ref` names this copy on the platform (WeCom task_id, DingTalk outTrackId, Feishu
    message_id, the local chat's message row); `photo` is the image shown with the card (the
    bytes the platform was given), or None.
    """

    title: str
    lines: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    photo: bytes | None = None
    ref: Any = None

    @property
    def buttons(self) -> tuple[str, ...]:
        """Labels of the buttons the person can still press, in order."""
        return tuple(self.values)

    def value(self, label_prefix: str) -> Any:
        """What pressing the button whose label starts with `label_prefix` sends back."""
        for label, value in self.values.items():
            if label.startswith(label_prefix):
                return value
        raise AssertionError(f"no button {label_prefix!r} on {self.title}: {list(self.values)}")

    @property
    def text(self) -> str:
        """Title, lines and status as one string (for `in` checks)."""
        return "\n".join([self.title, *self.lines, *([self.status] if self.status else [])])


@dataclass(frozen=True)
class Delivered:
    """One message a person received: a text, a card, or an image on its own."""

    kind: str  # text | card | image
    text: str = ""
    card: SeenCard | None = None


class Driver:
    """The verbs every platform driver offers; subclasses fill in the platform's ways."""

    platform = ""

    def __init__(self) -> None:
        # Answers a platform shows in the callback response instead of a message (Feishu toasts).
        self.toasts: dict[str, list[str]] = defaultdict(list)

    # -- people --------------------------------------------------------------------------------

    def enroll(self, session: Session, employee: Employee) -> str:
        """Give `employee` an id on this platform; returns it (what the platform calls them)."""
        raise NotImplementedError

    def stranger(self, session: Session) -> str:
        """Someone who can write to the bot on this platform but is not registered with it."""
        return "stranger01"

    # -- inbound -------------------------------------------------------------------------------

    def say(self, uid: str, text: str, *, times: int = 1) -> None:
        """`uid` sends a text; `times` > 1 delivers the very same message again."""
        raise NotImplementedError

    def send_photo(self, uid: str, data: bytes) -> None:
        """`uid` sends a photo."""
        raise NotImplementedError

    def press(self, uid: str, card: SeenCard, label_prefix: str, *, times: int = 1) -> None:
        """`uid` presses a button of `card`; `times` > 1 delivers the very same callback again."""
        raise NotImplementedError

    # -- what the platform delivered -----------------------------------------------------------

    def received(self, uid: str) -> list[Delivered]:
        """Everything delivered to `uid`, oldest first (cards as they look now)."""
        raise NotImplementedError

    def updates(self, card: SeenCard) -> int:
        """How many times the platform was asked to update this copy of a card."""
        raise NotImplementedError

    def last_message(self, uid: str) -> Delivered:
        """The newest message delivered to `uid`."""
        messages = self.received(uid)
        assert messages, f"nothing delivered to {uid} on {self.platform}"
        return messages[-1]

    def texts(self, uid: str) -> list[str]:
        """Texts delivered to `uid`, oldest first."""
        return [m.text for m in self.received(uid) if m.kind == "text"]

    def told(self, uid: str) -> list[str]:
        """Every line `uid` was shown: delivered texts, then answers shown on the spot."""
        return self.texts(uid) + self.toasts[uid]

    def last_card(self, uid: str, title_prefix: str = "") -> SeenCard:
        """The newest card delivered to `uid` whose title starts with `title_prefix`."""
        for message in reversed(self.received(uid)):
            if message.card is not None and message.card.title.startswith(title_prefix):
                return message.card
        raise AssertionError(f"no card {title_prefix!r} delivered to {uid} on {self.platform}")
