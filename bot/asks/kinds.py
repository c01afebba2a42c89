"""What a feature declares to ask something: its choices, and what happens on an answer.

A feature registers one AskKind per kind of question (design §12): the engine owns the cards,
the reminders and escalation, the reasons and photos, the audit entry and the refusals; the
kind's `on_answer` runs in the same transaction as the answer and returns the replies for the
person who answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.models import Ask, AskState, Employee
from bot.notices import asks as texts
from bot.signing import Signer
from cards import Button, Message


class Needs:
    """What a choice asks for before it counts."""

    REASON = "reason"  # text (or a tap on a common reason)
    TEXT = "text"
    PHOTO = "photo"
    TEXT_OR_PHOTO = "text_or_photo"
    NUMBER = "number"


PROMPTS = {
    Needs.REASON: texts.PROMPT_REASON,
    Needs.TEXT: texts.PROMPT_TEXT,
    Needs.PHOTO: texts.PROMPT_PHOTO,
    Needs.TEXT_OR_PHOTO: texts.PROMPT_TEXT_OR_PHOTO,
    Needs.NUMBER: texts.PROMPT_NUMBER,
}


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer an ask offers.

    `outcome` is the state word every copy shows afterwards (已通过); `needs` what must come
    with it; `reasons` common reasons offered as buttons; `prompt_title`, `prompt` and
    `cancelled` are the input card's title and line and the reply to 取消 (formatted by the
    feature when it opens the ask). A choice that is not `final` acknowledges: reminders stop,
    its button goes, the ask stays open for a final answer. A final choice with `after` (the
    key of a non-final choice) is offered only once that step was taken: 提交报告 first, then
    通过 / 不通过.
    """

    key: str
    label: str
    style: str = "default"
    outcome: str = ""
    needs: str | None = None
    reasons: tuple[str, ...] = ()
    prompt_title: str | None = None
    prompt: str | None = None
    cancelled: str | None = None
    final: bool = True
    after: str | None = None

    @property
    def done_word(self) -> str:
        """The outcome word shown on the cards."""
        return self.outcome or self.label

    def to_dict(self) -> dict[str, Any]:
        """JSON form stored on the ask."""
        # Not dataclasses.asdict: its recursive deep copy cost ~0.5 ms a choice, 0.8 s of a
        # change opening 500 asks (bench/changes.py); the values are strings and flags.
        data = {name: getattr(self, name) for name in _CHOICE_FIELDS}
        data["reasons"] = list(self.reasons)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Choice:
        """Inverse of to_dict."""
        values = dict(data)
        values["reasons"] = tuple(values.get("reasons") or ())
        return cls(**values)


_CHOICE_FIELDS = tuple(f.name for f in fields(Choice))


def choices_of(ask: Ask) -> list[Choice]:
    """The choices an ask offers."""
    return [Choice.from_dict(c) for c in ask.choices]


def choice_of(ask: Ask, key: str | None) -> Choice | None:
    """One of an ask's choices by key."""
    return next((c for c in choices_of(ask) if c.key == key), None)


def step_taken(ask: Ask) -> str | None:
    """The key of the non-final choice the ask was acknowledged with, if any."""
    return (ask.answer_data or {}).get("step") if ask.state == AskState.ACKNOWLEDGED else None


def is_offered(ask: Ask, choice: Choice) -> bool:
    """Whether a live ask offers `choice` now: a non-final step while nobody has acknowledged
    the ask, a choice that comes `after` a step once that step was taken, the rest always."""
    if not choice.final:
        return ask.state == AskState.OPEN
    if choice.after is not None:
        return step_taken(ask) == choice.after
    return True


@dataclass
class Answer:
    """What a kind's handler gets: the ask, who answered with which choice and input."""

    session: Session
    ask: Ask
    actor: Employee
    choice: Choice
    now: datetime
    tz: ZoneInfo
    signer: Signer
    reason: str | None = None
    evidence_id: int | None = None
    number: int | None = None
    platform: str | None = None


@dataclass(frozen=True)
class AskKind:
    """A kind of ask and its handler; `already_answered` and `not_yours` are its refusals.

    `extra_buttons(ask, person_id, now, signer)` may add buttons of the feature's own next to
    the choices on every live copy a person who may answer gets (e.g. 💡 on task cards): they
    are ordinary signed actions, not answers, and leave the ask as it is.
    """

    name: str
    on_answer: Callable[[Answer], list[Message]]
    already_answered: str = texts.ALREADY_ANSWERED
    not_yours: str = texts.NOT_YOURS
    extra: dict[str, Any] = field(default_factory=dict)
    extra_buttons: Callable[[Ask, int, datetime, Signer], tuple[Button, ...]] | None = None


KINDS: dict[str, AskKind] = {}


def register(kind: AskKind) -> AskKind:
    """Make a kind answerable (features register theirs when their handler module loads)."""
    KINDS[kind.name] = kind
    return kind


def kind_of(ask: Ask) -> AskKind:
    """The registered kind of an ask.

    Raises:
        LookupError: no handler registered (the app wires every feature's handler in).
    """
    try:
        return KINDS[ask.kind]
    except KeyError:
        raise LookupError(f"no handler registered for ask kind {ask.kind!r}") from None
