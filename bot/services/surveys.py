"""360 questionnaires (360 问卷): who rates whom, one question card at a time, closing.

A survey asks each rater, about each subject assigned to them, one question per card: an
anonymous ask (design §12) whose subject is `survey:<survey>:<subject employee>:<question>`.
A rater has one question open at a time; answering it opens the next (the rest of that
subject's questions, then the next subject's), so nobody gets forty cards at once and `任务`
shows where they are. The ask ties a rater to the question they were asked, never to the
answer: answers are stored unlinked (bot/services/survey_results.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import InvalidInput
from bot.models import Ask, AskState, Employee, Survey, SurveyRater
from bot.notices import surveys as notices
from bot.signing import Signer

PEERS_AND_SUPERVISOR = "peers+supervisor"
PREFIX = "survey:"


class SurveyInvalid(InvalidInput):
    """A survey request that cannot be carried out: `field` (dotted, `raters.E0001[2]`) and
    an English `message`; nothing was created."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True, slots=True)
class Question:
    """One question: its text and kind (`scale`: 1–5, `text`: free text)."""

    text: str
    kind: str


@dataclass(frozen=True, slots=True)
class SurveySpec:
    """A survey as requested (API body or CLI file), already checked for shape."""

    title: str
    questions: Sequence[Question]
    subjects: Sequence[str]
    raters: str | dict[str, list[str]]
    due: datetime


def question_key(survey_id: int, subject_id: int, question: int) -> str:
    """The ask subject of one question about one subject."""
    return f"{PREFIX}{survey_id}:{subject_id}:{question}"


def parse_key(key: str) -> tuple[int, int, int]:
    """(survey id, subject employee id, question index) of a question ask's subject."""
    survey_id, subject_id, question = key.removeprefix(PREFIX).split(":")
    return int(survey_id), int(subject_id), int(question)


def _active(session: Session, employee_no: str) -> Employee | None:
    return session.scalar(
        select(Employee).where(Employee.employee_no == employee_no, Employee.active.is_(True))
    )


def peers_and_supervisor(session: Session, subject: Employee) -> list[Employee]:
    """The subject's team mates (same supervisor; same department when they have none) and
    their supervisor, active ones only."""
    query = select(Employee).where(Employee.active.is_(True), Employee.id != subject.id)
    if subject.supervisor_id is not None:
        query = query.where(Employee.supervisor_id == subject.supervisor_id)
    elif subject.department_id is not None:
        query = query.where(Employee.department_id == subject.department_id)
    else:
        return []
    raters = list(session.scalars(query.order_by(Employee.id)))
    boss = subject.supervisor
    if boss is not None and boss.active and boss.id != subject.id:
        raters.append(boss)
    return raters


def resolve(session: Session, spec: SurveySpec) -> list[tuple[Employee, list[Employee]]]:
    """(subject, raters) for every subject, in the order given.

    Raises:
        SurveyInvalid: an unknown or repeated person, a subject rating themselves, a rater
        map that does not match the subjects, or fewer than MIN_RATERS raters for a subject
        (their results could never be shown).
    """
    subjects: list[Employee] = []
    for i, number in enumerate(spec.subjects):
        person = _active(session, number)
        if person is None:
            raise SurveyInvalid(f"subjects[{i}]", f"no active employee {number}")
        if person in subjects:
            raise SurveyInvalid(f"subjects[{i}]", f"{number} is listed twice")
        subjects.append(person)
    if isinstance(spec.raters, str):
        plan = [(s, peers_and_supervisor(session, s)) for s in subjects]
        for i, (subject, raters) in enumerate(plan):
            if len(raters) < notices.MIN_RATERS:
                raise SurveyInvalid(
                    f"subjects[{i}]",
                    f"{subject.employee_no} has {len(raters)} peers and supervisor; "
                    f"results need at least {notices.MIN_RATERS} raters",
                )
        return plan
    numbers = {s.employee_no for s in subjects}
    for key in spec.raters:
        if key not in numbers:
            raise SurveyInvalid(f"raters.{key}", "not one of the subjects")
    plan = []
    for subject in subjects:
        given = spec.raters.get(subject.employee_no)
        field = f"raters.{subject.employee_no}"
        if not given:
            raise SurveyInvalid(field, "no raters given for this subject")
        raters: list[Employee] = []
        for j, number in enumerate(given):
            person = _active(session, number)
            if person is None:
                raise SurveyInvalid(f"{field}[{j}]", f"no active employee {number}")
            if person.id == subject.id:
                raise SurveyInvalid(f"{field}[{j}]", "a subject cannot rate themselves")
            if person not in raters:
                raters.append(person)
        if len(raters) < notices.MIN_RATERS:
            raise SurveyInvalid(
                field, f"{len(raters)} raters; results need at least {notices.MIN_RATERS}"
            )
        plan.append((subject, raters))
    return plan


def _same_open_survey(
    session: Session, spec: SurveySpec, plan: list[tuple[Employee, list[Employee]]]
) -> Survey | None:
    """An open survey asking the same questions of the same people by the same due time."""
    questions = [{"text": q.text, "kind": q.kind} for q in spec.questions]
    pairs = {(s.id, r.id) for s, raters in plan for r in raters}
    for survey in session.scalars(
        select(Survey).where(Survey.title == spec.title, Survey.state == "open")
    ):
        if survey.questions != questions or survey.due_at != spec.due:
            continue
        found = session.execute(
            select(SurveyRater.subject_id, SurveyRater.rater_id).where(
                SurveyRater.survey_id == survey.id
            )
        )
        if {(s, r) for s, r in found} == pairs:
            return survey
    return None


def create_survey(
    session: Session, spec: SurveySpec, *, now: datetime, signer: Signer
) -> tuple[Survey, bool]:
    """Record a survey and send every rater their first question; returns (survey, created).
    The same open survey asked for again is returned as it is, and nothing is sent.

    Raises:
        SurveyInvalid: see `resolve`; a due time that has passed.
    """
    if spec.due <= now:
        raise SurveyInvalid("due", "must be in the future")
    plan = resolve(session, spec)
    same = _same_open_survey(session, spec, plan)
    if same is not None:
        return same, False
    survey = Survey(
        title=spec.title,
        questions=[{"text": q.text, "kind": q.kind} for q in spec.questions],
        state="open",
        due_at=spec.due,
        created_at=now,
    )
    session.add(survey)
    session.flush()
    raters: dict[int, Employee] = {}
    for subject, chosen in plan:
        for rater in chosen:
            session.add(SurveyRater(survey_id=survey.id, subject_id=subject.id, rater_id=rater.id))
            raters.setdefault(rater.id, rater)
    session.flush()
    for rater in raters.values():
        open_next(session, survey, rater, now=now, signer=signer, announce=True)
    return survey, True


def _plan_of(session: Session, survey: Survey, rater: Employee) -> list[int]:
    """The subjects `rater` is asked about, in the order they were assigned."""
    return list(
        session.scalars(
            select(SurveyRater.subject_id)
            .where(SurveyRater.survey_id == survey.id, SurveyRater.rater_id == rater.id)
            .order_by(SurveyRater.id)
        )
    )


def open_next(
    session: Session, survey: Survey, rater: Employee, *, now: datetime, signer: Signer,
    announce: bool,
) -> Ask | None:  # fmt: skip
    """Open `rater`'s next unasked question (announced as a card when `announce`), or None
    when they have been asked everything or the survey is closed."""
    if survey.state != "open":
        return None
    asked = set(
        session.scalars(
            select(Ask.subject).where(
                Ask.kind == notices.SURVEY_KIND,
                Ask.owner_id == rater.id,
                Ask.subject.like(f"{PREFIX}{survey.id}:%"),
            )
        )
    )
    total = len(survey.questions)
    for subject_id in _plan_of(session, survey, rater):
        for index, question in enumerate(survey.questions):
            key = question_key(survey.id, subject_id, index)
            if key in asked:
                continue
            subject = session.get(Employee, subject_id)
            assert subject is not None
            name = subject.name
            card = notices.question_card(
                title=survey.title, subject=name,
                department=subject.department.name if subject.department else None,
                index=index + 1, total=total, text=question["text"], kind=question["kind"],
            )  # fmt: skip
            choices = notices.question_choices(
                question["kind"], index=index + 1, total=total, subject=name,
                text=question["text"],
            )  # fmt: skip
            return asks.open_ask(
                session, kind=notices.SURVEY_KIND, owner=rater,
                title=notices.QUESTION_TITLE.format(title=survey.title), card=card,
                choices=choices, now=now, signer=signer, subject=key, due_at=survey.due_at,
                policy=notices.SURVEY_POLICY, anonymous=True, announce=announce,
            )  # fmt: skip
    return None


def close_survey(session: Session, survey: Survey, *, now: datetime) -> int | None:
    """Close a survey: its waiting question cards say so and take no more answers. Returns
    how many were withdrawn, or None when it was closed already (nothing changes).

    The survey row is locked first, so no answer opens a further question meanwhile. A
    question being answered at this very moment holds its own row and waits for the survey's:
    it is skipped here (SKIP LOCKED; taking it would deadlock) and its answer counts.
    """
    survey = session.get(Survey, survey.id, with_for_update=True, populate_existing=True)
    assert survey is not None
    if survey.state == "closed":
        return None
    survey.state, survey.closed_at = "closed", now
    session.flush()
    waiting = list(
        session.scalars(
            select(Ask)
            .where(
                Ask.kind == notices.SURVEY_KIND,
                Ask.subject.like(f"{PREFIX}{survey.id}:%"),
                Ask.state.in_((AskState.OPEN, AskState.ACKNOWLEDGED)),
            )
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    for ask in waiting:
        asks.close_ask(session, ask, outcome=notices.CLOSED_STATUS, now=now)
    session.flush()
    return len(waiting)


def finished_raters(
    session: Session, survey: Survey, subject_id: int, answering: Ask | None = None
) -> int:
    """How many raters answered every question about the subject (counted from the asks,
    which say who was asked and whether they answered, not what); `answering` is an ask
    being answered right now, which counts as answered."""
    last = question_key(survey.id, subject_id, len(survey.questions) - 1)
    done = Ask.state == AskState.ANSWERED
    if answering is not None:
        done = done | (Ask.id == answering.id)
    return int(
        session.scalar(
            select(func.count(Ask.id)).where(
                Ask.kind == notices.SURVEY_KIND, Ask.subject == last, done
            )
        )
        or 0
    )


def invited_raters(session: Session, survey: Survey, subject_id: int) -> int:
    """How many raters were asked about the subject."""
    return int(
        session.scalar(
            select(func.count(SurveyRater.id)).where(
                SurveyRater.survey_id == survey.id, SurveyRater.subject_id == subject_id
            )
        )
        or 0
    )


def subjects_of(session: Session, survey: Survey) -> list[Employee]:
    """The survey's subjects, in the order they were given."""
    first = (
        select(SurveyRater.subject_id, func.min(SurveyRater.id).label("first"))
        .where(SurveyRater.survey_id == survey.id)
        .group_by(SurveyRater.subject_id)
        .subquery()
    )
    return list(
        session.scalars(
            select(Employee).join(first, first.c.subject_id == Employee.id).order_by(first.c.first)
        )
    )


def people_counts(session: Session, survey: Survey) -> tuple[int, int]:
    """(subjects, distinct raters) of a survey."""
    subjects, raters = session.execute(
        select(
            func.count(func.distinct(SurveyRater.subject_id)),
            func.count(func.distinct(SurveyRater.rater_id)),
        ).where(SurveyRater.survey_id == survey.id)
    ).one()
    return int(subjects), int(raters)
