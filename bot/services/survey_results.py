"""360 answers and results (360 结果): stored unlinked, released in steps of at least three.

An answer row holds the survey, the subject, the question and the value, nothing about who gave
it or when; its key is random, so neither the key nor the storage order follows the order the
answers came in. A subject's results are released — to the subject and their supervisor, and to
`GET /api/v1/surveys/{id}/results` — once MIN_RATERS raters have answered every question about
them, and again only when MIN_RATERS more have and every question has MIN_RATERS more answers
(answers of raters still in the middle count as soon as they are given): comparing two releases
never isolates one rater's answers. A release is a frozen snapshot (averages per scale question, the text answers
in random order), so the API shows exactly what the people were sent.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Ask, Employee, Survey, SurveyAnswer, SurveyRelease
from bot.notices import surveys as notices
from bot.outbox import enqueue
from bot.services.surveys import finished_raters, invited_raters, subjects_of

TEXT_MAX = 500


def record_answer(
    session: Session, survey: Survey, subject_id: int, question: int, *,
    score: int | None = None, text: str | None = None,
) -> None:  # fmt: skip
    """Store one answer without its author."""
    session.add(
        SurveyAnswer(
            id=secrets.token_hex(16), survey_id=survey.id, subject_id=subject_id,
            question=question, score=score, text=(text or None) and text[:TEXT_MAX],
        )
    )  # fmt: skip
    session.flush()


def aggregate(session: Session, survey: Survey, subject_id: int) -> list[dict[str, Any]]:
    """Per question: the average and count of a scale question, or a text question's answers
    in the order of their random keys (a shuffle that does not follow answering order)."""
    rows = session.execute(
        select(SurveyAnswer.question, SurveyAnswer.score, SurveyAnswer.text)
        .where(SurveyAnswer.survey_id == survey.id, SurveyAnswer.subject_id == subject_id)
        .order_by(SurveyAnswer.id)
    ).all()
    out: list[dict[str, Any]] = []
    for index, question in enumerate(survey.questions):
        mine = [r for r in rows if r.question == index]
        item: dict[str, Any] = {"question": index, "text": question["text"],
                                "kind": question["kind"]}  # fmt: skip
        if question["kind"] == "scale":
            scores = [r.score for r in mine if r.score is not None]
            item["count"] = len(scores)
            item["average"] = round(sum(scores) / len(scores), 2) if scores else None
        else:
            texts = [r.text for r in mine if r.text]
            item["count"], item["answers"] = len(texts), texts
        out.append(item)
    return out


def latest_release(session: Session, survey_id: int, subject_id: int) -> SurveyRelease | None:
    """The subject's newest release in the survey, if any."""
    return session.scalars(
        select(SurveyRelease)
        .where(SurveyRelease.survey_id == survey_id, SurveyRelease.subject_id == subject_id)
        .order_by(SurveyRelease.raters.desc())
        .limit(1)
    ).first()


def release_if_due(
    session: Session, survey: Survey, subject: Employee, *, now: datetime,
    answering: Ask | None = None,
) -> SurveyRelease | None:  # fmt: skip
    """Release the subject's results when MIN_RATERS more raters finished than at the last
    release (the first time: MIN_RATERS in all), and send them to the subject and their
    supervisor (`answering`: the ask being answered now). The caller holds the survey's row
    lock, so two raters finishing at once are counted one after the other."""
    finished = finished_raters(session, survey, subject.id, answering)
    last = latest_release(session, survey.id, subject.id)
    before = last.raters if last is not None else 0
    if finished - before < notices.MIN_RATERS:
        return None
    results = aggregate(session, survey, subject.id)
    if last is not None and not _grew_enough(last.results, results):
        return None
    release = SurveyRelease(
        survey_id=survey.id, subject_id=subject.id, raters=finished,
        results=results, created_at=now,
    )  # fmt: skip
    session.add(release)
    session.flush()
    card = notices.results_card(
        title=survey.title, subject=subject.name, raters=finished, results=release.results,
        added=finished - before if last is not None else 0,
    )  # fmt: skip
    readers = [subject]
    boss = subject.supervisor
    if boss is not None and boss.active and boss.id != subject.id:
        readers.append(boss)
    for reader in readers:
        enqueue(session, card, now=now, recipient=reader)
    return release


def _grew_enough(previous: list[dict[str, Any]], current: list[dict[str, Any]]) -> bool:
    """True when every question has at least MIN_RATERS more answers than in the previous
    release. Answers are stored as they are given, so raters still in the middle of the survey
    can already count in a release; without this, the next release could differ from it by a
    single rater's answer to some question, and subtracting the two would reveal that answer."""
    counts = {item["question"]: int(item.get("count") or 0) for item in previous}
    return all(
        int(item.get("count") or 0) - counts.get(item["question"], 0) >= notices.MIN_RATERS
        for item in current
    )


def results_json(session: Session, survey: Survey) -> dict[str, Any]:
    """GET /api/v1/surveys/{id}/results: per subject, how many were asked and finished, and
    the newest released aggregates (null until MIN_RATERS raters finished). Never who
    answered what."""
    subjects = []
    for subject in subjects_of(session, survey):
        release = latest_release(session, survey.id, subject.id)
        subjects.append(
            {
                "employee_no": subject.employee_no,
                "name": subject.name,
                "invited": invited_raters(session, survey, subject.id),
                "finished": finished_raters(session, survey, subject.id),
                "released_raters": release.raters if release is not None else 0,
                "results": release.results if release is not None else None,
            }
        )
    return {
        "id": survey.id,
        "title": survey.title,
        "state": survey.state,
        "due": survey.due_at.isoformat() if survey.due_at else None,
        "min_raters": notices.MIN_RATERS,
        "subjects": subjects,
    }


def released_comments(session: Session, subject: Employee, limit: int) -> list[str]:
    """Text answers about `subject` from released results, newest survey first (the 1:1 fact
    pack's peer comments; nothing unreleased is ever shown)."""
    out: list[str] = []
    releases = session.scalars(
        select(SurveyRelease)
        .where(SurveyRelease.subject_id == subject.id)
        .order_by(SurveyRelease.survey_id.desc(), SurveyRelease.raters.desc())
    )
    seen: set[int] = set()
    for release in releases:
        if release.survey_id in seen:
            continue
        seen.add(release.survey_id)
        for item in release.results:
            out += item.get("answers") or []
        if len(out) >= limit:
            break
    return out
