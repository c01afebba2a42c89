"""签到: this week's check-in on demand (the Friday job sends it to every worker), 确认签到,
and a photo sent within 10 minutes afterwards attached to it (design §14)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import asks
from bot.context import HandlerContext
from bot.models import Ask, Checkin, Employee
from bot.notices import reviews as notices
from bot.services.checkins import STREAK_WEEKS, confirm_checkin, open_checkin
from bot.services.conversation import forget, recall, remember
from bot.services.evidence import store_photo
from bot.timeutil import local_hm
from cards import Message, Text

PHOTO_KEY = "checkin_photo"
PHOTO_WINDOW = timedelta(minutes=10)


def _on_answer(answer: asks.Answer) -> list[Message]:
    """确认签到: streak, maybe a voucher, and 10 minutes to send a photo."""
    session = answer.session
    checkin = session.scalars(select(Checkin).where(Checkin.ask_id == answer.ask.id)).one()
    person = session.get(Employee, checkin.employee_id)
    assert person is not None
    voucher = confirm_checkin(
        session, checkin, person, now=answer.now, tz=answer.tz,
        voucher_note=notices.VOUCHER_NOTE.format(streak=STREAK_WEEKS),
    )  # fmt: skip
    remember(session, person.id, PHOTO_KEY, {"checkin_id": checkin.id}, now=answer.now,
             ttl=PHOTO_WINDOW)  # fmt: skip
    lines = [notices.CHECKED_IN.format(week=checkin.week, streak=checkin.streak)]
    if checkin.streak % STREAK_WEEKS == 0:
        lines.append(
            notices.VOUCHER_GRANTED.format(streak=checkin.streak, reward=voucher.reward.title)
            if voucher is not None
            else notices.VOUCHER_NO_REWARD.format(streak=checkin.streak)
        )
    else:
        lines.append(notices.STREAK_TO_GO.format(left=STREAK_WEEKS - checkin.streak % STREAK_WEEKS))
    lines.append(notices.CHECKIN_PHOTO_HINT)
    return [Text("\n".join(lines))]


WEEKLY_CHECKIN = asks.register(
    asks.AskKind(
        notices.CHECKIN_KIND,
        _on_answer,
        already_answered=notices.ALREADY_CHECKED_IN,
        not_yours=notices.NOT_YOUR_CHECKIN,
    )
)


def handle_checkin(ctx: HandlerContext, args: str) -> list[Message]:
    """签到 / checkin: this week's card to confirm, or where the streak stands."""
    checkin, _opened = open_checkin(
        ctx.session, ctx.sender, now=ctx.now, tz=ctx.tz, signer=ctx.signer, announce=False
    )
    if checkin.checked_in_at is not None:
        time = local_hm(checkin.checked_in_at, ctx.tz)
        return [
            Text(
                notices.ALREADY_CHECKED_IN.format(time=time)
                + "\n"
                + notices.CHECKED_IN.format(week=checkin.week, streak=checkin.streak)
            )
        ]
    ask = ctx.session.get(Ask, checkin.ask_id)
    assert ask is not None
    return [asks.show(ctx.session, ask, ctx.sender, now=ctx.now, signer=ctx.signer)]


def take_photo(ctx: HandlerContext) -> list[Message] | None:
    """A photo within 10 minutes of checking in: attach it to the check-in; else None."""
    pending = recall(ctx.session, ctx.sender.id, PHOTO_KEY, now=ctx.now)
    if not pending:
        return None
    checkin = ctx.session.get(Checkin, int(pending["checkin_id"]))
    forget(ctx.session, ctx.sender.id, PHOTO_KEY)
    if checkin is None:
        return None
    data = ctx.fetch_media(ctx.event.media_ref or "")
    evidence = store_photo(
        ctx.session, ctx.media_dir, ctx.sender, data, source=ctx.event.platform, now=ctx.now
    )
    checkin.evidence_id = evidence.id
    return [Text(notices.PHOTO_ATTACHED.format(week=checkin.week))]
