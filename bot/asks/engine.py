"""The asks engine (design §12): open an ask, hand out its cards, take answers and their input.

Every copy of an ask's card is keyed (`ask:<id>` for the owner, one key per other person and
per reminder) and logged in ask_log, so an answer, an acknowledgement or a close updates every
copy. Buttons are signed for the one person a copy went to; who may answer is checked again
here: the owner, the delegates recorded at opening, and, for asks that allow it, everyone the
escalation chain told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.asks.build import build_ask, policy_chain
from bot.asks.kinds import KINDS, Answer, Choice, Needs, choice_of, choices_of, is_offered, kind_of
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound
from bot.models import Ask, AskLog, AskState, AuditLog, Employee
from bot.notices import asks as texts
from bot.outbox import close_card, copy_key, current_card, enqueue, publish_card
from bot.services.conversation import forget, recall
from bot.services.inbound import redact_inbound
from bot.signing import Signer
from bot.timeutil import local_hm
from cards import Button, Card, Message, Text, message_from_dict

INPUT_KEY = "ask_input"
INPUT_WINDOW = timedelta(minutes=30)
REASON_MAX = 500
LIVE = (AskState.OPEN, AskState.ACKNOWLEDGED)
# ask_log actions that name a card copy whose buttons follow the ask's state.
COPY_ACTIONS = ("sent", "shown", "owner", "owner+supervisor", "next_level", "supervisor", "hr")


def primary_key(ask_id: int) -> str:
    """The key of the owner's card; other people's copies derive from it (outbox.copy_key)."""
    return f"ask:{ask_id}"


def open_ask(
    session: Session,
    *,
    kind: str,
    owner: Employee,
    title: str,
    card: Card,
    choices: Sequence[Choice],
    now: datetime,
    signer: Signer | None = None,
    subject: str | None = None,
    delegates: Sequence[Employee] = (),
    due_at: datetime | None = None,
    policy: str | None = None,
    anchor_at: datetime | None = None,
    severity: str = "normal",
    told_may_answer: bool = False,
    anonymous: bool = False,
    announce: bool = True,
) -> Ask:
    """Open an ask for `owner` (and `delegates`); with `announce`, send each their card now.

    `card` is the content (title, lines, fields, image); the engine adds the buttons. The
    escalation chain is the named policy's, counted from `anchor_at` (default: now).

    Raises:
        InvalidInput: unknown policy name.
    """
    ask = build_ask(
        kind=kind, owner=owner, title=title, card=card, choices=choices, now=now,
        chain=policy_chain(session, policy), subject=subject, delegates=delegates,
        due_at=due_at, anchor_at=anchor_at, severity=severity,
        told_may_answer=told_may_answer, anonymous=anonymous,
    )  # fmt: skip
    session.add(ask)
    session.flush()
    if announce:
        assert signer is not None, "announcing signs the buttons"
        for person in (owner, *[d for d in delegates if d.id != owner.id]):
            send_copy(session, ask, person, now=now, signer=signer)
    return ask


def content_of(ask: Ask) -> Card:
    """The ask's card content, without buttons."""
    card = message_from_dict({"type": "card", **ask.card})
    assert isinstance(card, Card)
    return card


def told_ids(session: Session, ask: Ask) -> set[int]:
    """Everyone the escalation chain has told about the ask."""
    return set(
        session.scalars(
            select(AskLog.recipient_id).where(AskLog.ask_id == ask.id, AskLog.result == "triggered")
        )
    )


def may_answer(session: Session, ask: Ask, person: Employee) -> bool:
    """The owner, a recorded delegate, or (where the ask allows it) anyone told about it."""
    if person.id == ask.owner_id or person.id in (ask.delegate_ids or ()):
        return True
    return bool(ask.told_may_answer) and person.id in told_ids(session, ask)


def choice_buttons(
    ask: Ask, person_id: int, *, now: datetime, signer: Signer
) -> tuple[Button, ...]:
    """The ask's open choices as buttons signed for `person_id`, then its kind's own."""
    choices = tuple(
        Button(c.label, signer.sign("ask", ask.id, person_id, now, c.key), c.style)
        for c in choices_of(ask)
        if is_offered(ask, c)
    )
    kind = KINDS.get(ask.kind)
    if kind is None or kind.extra_buttons is None:
        return choices
    return choices + kind.extra_buttons(ask, person_id, now, signer)


def ack_button(ask: Ask, person_id: int, *, now: datetime, signer: Signer) -> Button:
    """知道了 for someone told about an ask they may not answer."""
    value = signer.sign("ask_ack", ask.id, person_id, now)
    return Button(texts.ESCALATION_ACK_LABEL, value, "primary")


def buttons_for(
    session: Session, ask: Ask, person: Employee, *, now: datetime, signer: Signer
) -> tuple[Button, ...]:
    """The buttons `person` gets on the ask as it stands: its open choices for those who may
    answer, 知道了 for others told while reminders run, nothing once it is settled."""
    if ask.state not in LIVE:
        return ()
    if may_answer(session, ask, person):
        return choice_buttons(ask, person.id, now=now, signer=signer)
    if ask.state == AskState.OPEN and person.id in told_ids(session, ask):
        return (ack_button(ask, person.id, now=now, signer=signer),)
    return ()


def card_for(
    session: Session,
    ask: Ask,
    person: Employee,
    *,
    now: datetime,
    signer: Signer,
    key: str | None = None,
    title: str | None = None,
    note: str | None = None,
) -> Card:
    """A copy of the ask's card for `person`, keyed and with buttons signed for them."""
    if key is None:
        key = (
            primary_key(ask.id)
            if person.id == ask.owner_id
            else copy_key(primary_key(ask.id), person.id)
        )
    content = content_of(ask)
    return replace(
        content,
        title=title or content.title,
        note=note or content.note,
        buttons=buttons_for(session, ask, person, now=now, signer=signer),
        key=key,
    )


def log(session: Session, ask: Ask, action: str, result: str, now: datetime, **kw: Any) -> None:
    """One ask_log row."""
    session.add(
        AskLog(ask_id=ask.id, step=ask.step, action=action, result=result, created_at=now, **kw)
    )


def send_copy(
    session: Session, ask: Ask, person: Employee, *, now: datetime, signer: Signer
) -> Card:
    """Queue `person`'s copy of the ask's card and log its key."""
    card = card_for(session, ask, person, now=now, signer=signer)
    enqueue(session, card, now=now, recipient=person)
    log(session, ask, "sent", "done", now, recipient_id=person.id, card_key=card.key)
    return card


def show(session: Session, ask: Ask, person: Employee, *, now: datetime, signer: Signer) -> Card:
    """`person`'s copy as a reply (任务, 待审): a fresh card whose key the ask keeps."""
    card = card_for(session, ask, person, now=now, signer=signer)
    known = session.scalar(
        select(AskLog.id).where(AskLog.ask_id == ask.id, AskLog.card_key == card.key).limit(1)
    )
    if known is None:
        log(session, ask, "shown", "done", now, recipient_id=person.id, card_key=card.key)
    return card


def _copies(session: Session, ask: Ask) -> list[tuple[str, int | None, str]]:
    """(card key, recipient id, action) of every logged card of the ask, oldest first."""
    rows = session.execute(
        select(AskLog.card_key, AskLog.recipient_id, AskLog.action)
        .where(AskLog.ask_id == ask.id, AskLog.card_key.is_not(None))
        .order_by(AskLog.id)
    )
    seen: dict[str, tuple[str, int | None, str]] = {}
    for key, recipient_id, action in rows:
        seen.setdefault(key, (key, recipient_id, action))
    return list(seen.values())


def _refresh_copies(
    session: Session, ask: Ask, *, now: datetime, signer: Signer, note: str
) -> None:
    """After an acknowledgement: every copy loses what no longer applies and says who acked."""
    for key, recipient_id, action in _copies(session, ask):
        card = current_card(session, key)
        person = session.get(Employee, recipient_id) if recipient_id else None
        if card is None or person is None or action not in COPY_ACTIONS or card.status:
            continue
        buttons = buttons_for(session, ask, person, now=now, signer=signer)
        publish_card(session, replace(card, buttons=buttons, note=note), now=now)


def _settle_copies(session: Session, ask: Ask, status: str, now: datetime) -> None:
    """Every copy, input cards included, shows the final status instead of buttons."""
    for key, _recipient_id, _action in _copies(session, ask):
        close_card(session, key, status, now=now)


def lock(session: Session, ask_id: int) -> Ask:
    """Lock and return an ask. Raises NotFound."""
    ask = session.get(Ask, ask_id, with_for_update=True, populate_existing=True)
    if ask is None:
        raise NotFound(texts.UNKNOWN_ASK)
    return ask


def _outcome_line(ask: Ask, session: Session, tz: ZoneInfo) -> tuple[str, str, str]:
    choice = choice_of(ask, ask.answer)
    outcome = choice.done_word if choice is not None else "已处理"
    by = session.get(Employee, ask.answered_by_id) if ask.answered_by_id else None
    return (
        outcome,
        (by.name if by else "-"),
        (local_hm(ask.answered_at, tz) if ask.answered_at else "-"),
    )


def ensure_live(session: Session, ask: Ask, tz: ZoneInfo) -> None:
    """Raises BotError (the kind's polite refusal) when the ask was answered or closed."""
    if ask.state == AskState.ANSWERED:
        outcome, name, time = _outcome_line(ask, session, tz)
        template = kind_of(ask).already_answered
        raise BotError(template.format(name=name, time=time, outcome=outcome))
    if ask.state == AskState.CLOSED:
        raise BotError(texts.ALREADY_CLOSED.format(outcome=ask.reason or "已关闭"))


def check_answerable(session: Session, ask: Ask, actor: Employee, tz: ZoneInfo) -> None:
    """Raises BotError when the ask is settled or `actor` may not answer it."""
    ensure_live(session, ask, tz)
    if not may_answer(session, ask, actor):
        raise NotAllowed(kind_of(ask).not_yours)


def answer(
    session: Session,
    ask: Ask,
    actor: Employee,
    choice: Choice,
    *,
    now: datetime,
    tz: ZoneInfo,
    signer: Signer,
    reason: str | None = None,
    evidence_id: int | None = None,
    number: int | None = None,
    platform: str | None = None,
) -> list[Message]:
    """Record `actor`'s answer on a locked, live ask, run the kind's handler in the same
    transaction, audit it and bring every copy of the card up to date.

    Raises:
        BotError: missing input, or the kind's refusal (the caller's savepoint undoes all).
    """
    if choice.needs in (Needs.REASON, Needs.TEXT) and not (reason or "").strip():
        raise InvalidInput(texts.NEED_TEXT)
    pending = recall(session, actor.id, INPUT_KEY, now=now)
    if pending and pending.get("ask_id") == ask.id:
        forget(session, actor.id, INPUT_KEY)
    reason = reason.strip()[:REASON_MAX] if reason else None
    replies = kind_of(ask).on_answer(
        Answer(session, ask, actor, choice, now, tz, signer, reason, evidence_id, number, platform)
    )
    ask.next_step_at = None
    hm = local_hm(now, tz)
    if not choice.final:
        ask.state, ask.acknowledged_by_id, ask.acknowledged_at = (
            AskState.ACKNOWLEDGED,
            actor.id,
            now,
        )
        # The step taken (and what came with it) decides which `after` choices are offered.
        ask.answer_data = {"step": choice.key, **(_data(evidence_id, number) or {})}
        log(session, ask, "acknowledged", choice.key, now, recipient_id=actor.id)
        note = texts.OUTCOME_STATUS.format(outcome=choice.done_word, name=actor.name, time=hm)
        for key, _recipient_id, action in _copies(session, ask):
            if action == "prompt":  # input cards the step made moot (the step's own, others')
                close_card(session, key, note, now=now)
        _refresh_copies(session, ask, now=now, signer=signer, note=note)
        if any(c.after == choice.key for c in choices_of(ask)):
            # The step unlocked the next choices: hand them over right here, not only on the
            # card further up the chat.
            card = show(session, ask, actor, now=now, signer=signer)
            replies = [*replies, replace(card, note=note)]
    else:
        ask.state, ask.answered_at = AskState.ANSWERED, now
        if ask.anonymous:
            # Which answer a person gave is not kept anywhere: the kind stored it unlinked,
            # and the inbound record of the message or press that gave it is blanked.
            redact_inbound(session)
            log(session, ask, "answered", "done", now)
            status = f"{choice.done_word} · {hm}"
        else:
            ask.answer, ask.answered_by_id = choice.key, actor.id
            ask.reason, ask.answer_data = reason, _data(evidence_id, number)
            log(session, ask, "answered", choice.key, now, recipient_id=actor.id)
            status = texts.OUTCOME_STATUS.format(outcome=choice.done_word, name=actor.name, time=hm)
            if reason and choice.needs == Needs.REASON:
                status += "\n" + texts.REASON_LINE.format(reason=reason)
        _settle_copies(session, ask, status, now)
    detail: dict[str, Any] = {"kind": ask.kind, "subject": ask.subject}
    if not ask.anonymous:
        detail.update(choice=choice.key, reason=reason)
    session.add(
        AuditLog(actor_id=actor.id, action="ask.answer", object_type="ask",
                 object_id=str(ask.id), detail=detail, created_at=now)
    )  # fmt: skip
    session.flush()
    return replies


def _data(evidence_id: int | None, number: int | None) -> dict[str, Any] | None:
    data = {k: v for k, v in (("evidence_id", evidence_id), ("number", number)) if v is not None}
    return data or None


def acknowledge(
    session: Session, ask_id: int, actor: Employee, *, now: datetime, tz: ZoneInfo, signer: Signer
) -> list[Message]:
    """知道了 on an escalation copy: the reminders stop; the ask itself stays open.

    Raises:
        BotError: settled already, or `actor` was never told about it.
    """
    ask = lock(session, ask_id)
    ensure_live(session, ask, tz)
    if actor.id not in told_ids(session, ask) and not may_answer(session, ask, actor):
        raise NotAllowed(kind_of(ask).not_yours)
    if ask.state == AskState.OPEN:
        ask.state, ask.next_step_at = AskState.ACKNOWLEDGED, None
        ask.acknowledged_by_id, ask.acknowledged_at = actor.id, now
        log(session, ask, "acknowledged", "escalation", now, recipient_id=actor.id)
        note = texts.ESCALATION_ACKED_NOTE.format(name=actor.name, time=local_hm(now, tz))
        _refresh_copies(session, ask, now=now, signer=signer, note=note)
    return [Text(texts.ESCALATION_ACKED.format(title=ask.title))]


def close_ask(session: Session, ask: Ask, *, outcome: str, now: datetime) -> None:
    """Settle an ask some other way than by its answer (the feature decided elsewhere):
    every copy shows `outcome` and a late tap is refused politely."""
    if ask.state not in LIVE:
        return
    ask.state, ask.next_step_at, ask.reason = AskState.CLOSED, None, outcome[:500]
    log(session, ask, "closed", "done", now, detail=outcome[:200])
    _settle_copies(session, ask, outcome, now)


def find_live(session: Session, subject: str, kind: str | None = None) -> Ask | None:
    """The newest open or acknowledged ask about `subject` (optionally of one kind)."""
    query = select(Ask).where(Ask.subject == subject, Ask.state.in_(LIVE))
    if kind is not None:
        query = query.where(Ask.kind == kind)
    return session.scalars(query.order_by(Ask.id.desc()).limit(1)).first()


def open_asks_of(session: Session, person_id: int) -> list[Ask]:
    """The asks waiting for `person_id`'s answer (owned, or delegated to them), oldest first."""
    delegated = select(AskLog.ask_id).where(
        AskLog.recipient_id == person_id, AskLog.action == "sent"
    )
    return list(
        session.scalars(
            select(Ask)
            .where(Ask.state.in_(LIVE), (Ask.owner_id == person_id) | Ask.id.in_(delegated))
            .order_by(Ask.created_at, Ask.id)
        )
    )
