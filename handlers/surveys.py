"""Answers to 360 questions (design §14): a tap on 1–5, or the text after 填写回答, stored
without its author; the rater then gets their next question right away.

The asks are anonymous (bot/asks/engine.py): neither the ask, its log, the audit entry nor the
inbound record keeps which answer was given. The reply is the same whatever was answered.
"""

from __future__ import annotations

from bot import asks
from bot.models import Employee, Survey
from bot.notices import surveys as notices
from bot.services.survey_results import record_answer, release_if_due
from bot.services.surveys import open_next, parse_key
from cards import Message, Text


def _on_answer(answer: asks.Answer) -> list[Message]:
    """Store the answer unlinked, release results when due, hand over the next question."""
    session = answer.session
    survey_id, subject_id, question = parse_key(answer.ask.subject or "")
    # One answer at a time per survey: the count of finished raters that decides a release
    # must see every other answer that finished before it.
    survey = session.get(Survey, survey_id, with_for_update=True, populate_existing=True)
    subject = session.get(Employee, subject_id)
    assert survey is not None and subject is not None
    if answer.choice.key == notices.TEXT_CHOICE:
        record_answer(session, survey, subject_id, question, text=answer.reason)
    else:
        record_answer(session, survey, subject_id, question, score=int(answer.choice.key))
    release_if_due(session, survey, subject, now=answer.now, answering=answer.ask)
    replies: list[Message] = [Text(notices.TAKEN)]
    rater = answer.actor
    following = open_next(
        session, survey, rater, now=answer.now, signer=answer.signer, announce=False
    )
    if following is None and survey.state == "closed":
        return replies  # answered just as the survey closed: nothing more will be asked
    if following is None:
        return [Text(notices.TAKEN + "\n" + notices.ALL_DONE.format(title=survey.title))]
    choice = asks.choices_of(following)[0]
    if choice.needs:
        # A text question: its input card comes straight away, so the next message answers.
        replies += asks.press(
            session, following.id, rater, choice.key, now=answer.now, tz=answer.tz,
            signer=answer.signer, platform=answer.platform,
        )  # fmt: skip
    else:
        replies.append(asks.show(session, following, rater, now=answer.now, signer=answer.signer))
    return replies


SURVEY_QUESTION = asks.register(
    asks.AskKind(
        notices.SURVEY_KIND,
        _on_answer,
        already_answered=notices.ALREADY_SUBMITTED,
        not_yours=notices.NOT_YOUR_QUESTION,
    )
)
