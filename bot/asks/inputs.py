"""What comes with an answer (design §12): a tap on a choice that needs a reason, a text, a
photo or a number opens an input card and waits for the person's next message (30 minutes);
typed text, a photo or a tap on a common reason then answers the ask. Commands still work
meanwhile, and 取消 leaves the ask as it was.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.asks.engine import INPUT_KEY, INPUT_WINDOW, REASON_MAX, answer, check_answerable, lock, log
from bot.asks.kinds import PROMPTS, Choice, Needs, choice_of, is_offered
from bot.errors import InvalidInput, NotFound
from bot.models import Ask, Employee
from bot.notices import asks as texts
from bot.outbox import close_card
from bot.services.conversation import forget, recall, remember
from bot.signing import Signer
from cards import Button, Card, Message, Text


def press(
    session: Session,
    ask_id: int,
    actor: Employee,
    choice_key: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    signer: Signer,
    platform: str | None = None,
) -> list[Message]:
    """A tap on one of the ask's choices: answer it, or first ask for what the choice needs.

    Raises:
        BotError subclasses: settled already, not this person's, unknown choice, or the
        kind's own refusal (nothing changes then).
    """
    ask = lock(session, ask_id)
    check_answerable(session, ask, actor, tz)
    choice = choice_of(ask, choice_key)
    if choice is None or not is_offered(ask, choice):
        raise InvalidInput(texts.UNKNOWN_CHOICE)
    if choice.needs:
        return [_prompt(session, ask, actor, choice, now=now, signer=signer)]
    return answer(session, ask, actor, choice, now=now, tz=tz, signer=signer, platform=platform)


def _prompt_key(ask: Ask, actor: Employee) -> str:
    return f"ask:{ask.id}:input:{actor.id}"


def _prompt(
    session: Session, ask: Ask, actor: Employee, choice: Choice, *, now: datetime, signer: Signer
) -> Card:
    """The card asking for a reason, text, photo or number; typed text counts as the input."""
    remember(
        session,
        actor.id,
        INPUT_KEY,
        {"ask_id": ask.id, "choice": choice.key},
        now=now,
        ttl=INPUT_WINDOW,
    )
    buttons = tuple(
        Button(reason, signer.sign("ask_reason", ask.id, actor.id, now, f"{choice.key}:{i}"))
        for i, reason in enumerate(choice.reasons if choice.needs == Needs.REASON else ())
    )
    cancel = signer.sign("ask_cancel", ask.id, actor.id, now, choice.key)
    key = _prompt_key(ask, actor)
    log(session, ask, "prompt", "done", now, recipient_id=actor.id, card_key=key)
    return Card(
        title=choice.prompt_title or f"{choice.label}：{ask.title}",
        lines=(choice.prompt or PROMPTS[choice.needs or Needs.TEXT],),
        buttons=(*buttons, Button(texts.CANCEL_LABEL, cancel)),
        key=key,
    )


def press_reason(
    session: Session, ask_id: int, actor: Employee, arg: str, *, now: datetime, tz: ZoneInfo,
    signer: Signer, platform: str | None = None,
) -> list[Message]:  # fmt: skip
    """A tap on a common reason of the input card."""
    ask = lock(session, ask_id)
    check_answerable(session, ask, actor, tz)
    key, _, index = arg.rpartition(":")
    choice = choice_of(ask, key)
    try:
        reason = choice.reasons[int(index)] if choice is not None else None
    except (ValueError, IndexError):
        reason = None
    if choice is None or reason is None or not is_offered(ask, choice):
        raise InvalidInput(texts.UNKNOWN_CHOICE)
    return answer(
        session, ask, actor, choice, reason=reason, now=now, tz=tz, signer=signer, platform=platform
    )


def cancel_input(
    session: Session, ask_id: int, actor: Employee, choice_key: str, *, now: datetime
) -> list[Message]:
    """取消 on the input card: nothing is answered, the ask stays as it was."""
    pending = recall(session, actor.id, INPUT_KEY, now=now)
    if pending and pending.get("ask_id") == ask_id:
        forget(session, actor.id, INPUT_KEY)
    ask = session.get(Ask, ask_id)
    if ask is None:
        raise NotFound(texts.UNKNOWN_ASK)
    close_card(session, _prompt_key(ask, actor), texts.PROMPT_CANCELLED, now=now)
    choice = choice_of(ask, choice_key)
    reply = choice.cancelled if choice is not None and choice.cancelled else None
    return [Text(reply or texts.CANCELLED.format(title=ask.title))]


def _pending(session: Session, actor: Employee, now: datetime) -> tuple[Ask, Choice] | None:
    pending = recall(session, actor.id, INPUT_KEY, now=now)
    if not pending:
        return None
    ask = session.get(Ask, int(pending["ask_id"]), with_for_update=True, populate_existing=True)
    choice = choice_of(ask, pending.get("choice")) if ask is not None else None
    if ask is None or choice is None:
        forget(session, actor.id, INPUT_KEY)
        return None
    return ask, choice


def _still_offered(ask: Ask, choice: Choice) -> None:
    """Raises InvalidInput when someone else's step took the choice off the ask meanwhile."""
    if not is_offered(ask, choice):
        raise InvalidInput(texts.UNKNOWN_CHOICE)


def wants_photo(session: Session, actor: Employee, now: datetime) -> bool:
    """True when an ask is waiting for a photo from `actor` (a photo then answers it)."""
    pending = _pending(session, actor, now)
    return pending is not None and pending[1].needs in (Needs.PHOTO, Needs.TEXT_OR_PHOTO)


def take_text(
    session: Session, actor: Employee, text: str, *, now: datetime, tz: ZoneInfo,
    signer: Signer, platform: str | None = None,
) -> list[Message] | None:  # fmt: skip
    """Typed text while an ask waits for input from `actor`: the answer's reason, text or
    number. None when nothing waits.

    Raises:
        BotError: the ask was settled meanwhile, or the text is not what the choice needs
        (the input stays pending).
    """
    pending = _pending(session, actor, now)
    text = text.strip()
    if pending is None or not text:
        return None
    ask, choice = pending
    check_answerable(session, ask, actor, tz)
    _still_offered(ask, choice)
    if choice.needs == Needs.PHOTO:
        raise InvalidInput(texts.PROMPT_PHOTO)
    number = None
    if choice.needs == Needs.NUMBER:
        try:
            number = int(text)
        except ValueError:
            raise InvalidInput(texts.NEED_NUMBER) from None
    return answer(
        session, ask, actor, choice, reason=text[:REASON_MAX], number=number,
        now=now, tz=tz, signer=signer, platform=platform,
    )  # fmt: skip


def take_photo(
    session: Session, actor: Employee, evidence_id: int, *, now: datetime, tz: ZoneInfo,
    signer: Signer, platform: str | None = None,
) -> list[Message] | None:  # fmt: skip
    """A photo while an ask waits for one from `actor`; None when nothing waits for a photo."""
    pending = _pending(session, actor, now)
    if pending is None or pending[1].needs not in (Needs.PHOTO, Needs.TEXT_OR_PHOTO):
        return None
    ask, choice = pending
    check_answerable(session, ask, actor, tz)
    _still_offered(ask, choice)
    return answer(
        session, ask, actor, choice, evidence_id=evidence_id,
        now=now, tz=tz, signer=signer, platform=platform,
    )  # fmt: skip
