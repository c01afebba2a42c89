"""POST /api/v1/surveys and GET /api/v1/surveys/{id}/results: 360 questionnaires (design §14).

The request model is shared with `python -m bot surveys create FILE.json`. Results are the
released aggregates only, never who answered what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import Field, WithJsonSchema

from bot.api.base import (
    ApiDoc,
    ApiError,
    ApiModel,
    Operation,
    Text,
    Time,
    parse_json,
    parse_model,
    row_id,
    storable_problem,
)
from bot.db import session_scope
from bot.models import Survey
from bot.services.survey_results import results_json
from bot.services.surveys import (
    PEERS_AND_SUPERVISOR,
    Question,
    SurveyInvalid,
    SurveySpec,
    create_survey,
    people_counts,
)

if TYPE_CHECKING:
    from bot.state import BotState

NUMBER_MAX = 50
EmployeeNo = Text(NUMBER_MAX)
NOT_FOUND = "no such survey"
RATERS_SHAPE = "must be 'peers+supervisor' or an object mapping each subject to its raters"
RATERS_SCHEMA = {
    "description": "'peers+supervisor' (each subject's team mates and supervisor), or an "
    "object mapping each subject's employee number to its raters' employee numbers",
    "anyOf": [
        {"const": PEERS_AND_SUPERVISOR},
        {"type": "object", "minProperties": 1,
         "additionalProperties": {"type": "array", "minItems": 1,
                                  "items": {"type": "string", "maxLength": NUMBER_MAX}}},
    ],
}  # fmt: skip


class QuestionIn(ApiModel):
    """One question: `scale` is answered with 1–5, `text` with the rater's next message."""

    text: Text(200)
    kind: Literal["scale", "text"]


class SurveyIn(ApiModel):
    """A 360 questionnaire: who is rated (`subjects`, employee numbers), by whom (`raters`:
    each subject's team mates and supervisor, or a map subject → raters), and by when."""

    title: Text(100)
    questions: list[QuestionIn] = Field(min_length=1, max_length=30)
    subjects: list[EmployeeNo] = Field(min_length=1, max_length=500)
    # Checked by `parse_survey`, which names the exact bad entry (`raters.E0001[2]`); a
    # pydantic union would name its branches instead.
    raters: Annotated[Any, WithJsonSchema(RATERS_SCHEMA)]
    due: Time

    def spec(self) -> SurveySpec:
        """The service's form of the request."""
        raters: str | dict[str, list[str]] = (
            self.raters if isinstance(self.raters, str) else dict(self.raters)
        )
        return SurveySpec(
            title=self.title,
            questions=[Question(q.text, q.kind) for q in self.questions],
            subjects=list(self.subjects),
            raters=raters,
            due=self.due,
        )


class SurveyCreated(ApiModel):
    """The survey as recorded: 201 when new, 200 when the same open survey already existed."""

    id: int
    title: str
    subjects: int
    raters: int


class QuestionResult(ApiModel):
    """One question's aggregate: average and count (scale) or the answers in random order."""

    question: int
    text: str
    kind: str
    count: int
    average: float | None = None
    answers: list[str] | None = None


class SubjectResult(ApiModel):
    """One subject: raters asked and finished, and the released results (null below 3)."""

    employee_no: str
    name: str
    invited: int
    finished: int
    released_raters: int
    results: list[QuestionResult] | None


class SurveyResults(ApiModel):
    """A survey's released results, per subject."""

    id: int
    title: str
    state: str
    due: str | None
    min_raters: int
    subjects: list[SubjectResult]


def parse_survey(data: Any) -> SurveyIn:
    """Validate a survey request. Raises ApiError naming the first bad field."""
    body = parse_model(SurveyIn, data)
    raters = body.raters
    if isinstance(raters, str):
        if raters != PEERS_AND_SUPERVISOR:
            raise ApiError("raters", RATERS_SHAPE)
        return body
    if not isinstance(raters, dict) or not raters:
        raise ApiError("raters", RATERS_SHAPE)
    clean: dict[str, list[str]] = {}
    for key, given in raters.items():
        if problem := storable_problem(key):
            raise ApiError("raters", f"a subject {problem}")
        if not isinstance(given, list) or not given:
            raise ApiError(f"raters.{key}", "must be a list of employee numbers")
        for j, number in enumerate(given):
            if not isinstance(number, str) or not 0 < len(number.strip()) <= NUMBER_MAX:
                raise ApiError(f"raters.{key}[{j}]", "must be an employee number")
            if problem := storable_problem(number):
                raise ApiError(f"raters.{key}[{j}]", problem)
        clean[key.strip()] = [n.strip() for n in given]
    body.raters = clean
    return body


def register(api: Blueprint, state: BotState, doc: ApiDoc) -> None:
    """Add the survey routes to the API blueprint."""

    @api.post("/surveys")
    @doc.add(
        Operation("POST", "/surveys", "Start a 360 questionnaire (one anonymous card per question)",
                  body=SurveyIn, responses={201: SurveyCreated, 200: SurveyCreated})
    )  # fmt: skip
    def create_survey_route() -> Any:
        body = parse_survey(parse_json(request.get_data()))
        try:
            with session_scope(state.session_factory) as session:
                survey, created = create_survey(
                    session, body.spec(), now=state.clock.now(), signer=state.signer
                )
                result = summary(session, survey)
        except SurveyInvalid as exc:
            raise ApiError(exc.field, exc.message) from None
        if created:
            state.notify_worker()
        return jsonify(result), 201 if created else 200

    @api.get("/surveys/<survey_id>/results")
    @doc.add(
        Operation("GET", "/surveys/{id}/results", "Released 360 results (only at ≥ 3 raters)",
                  responses={200: SurveyResults, 404: None})
    )  # fmt: skip
    def survey_results_route(survey_id: str) -> Any:
        number = row_id(survey_id, NOT_FOUND)
        with session_scope(state.session_factory) as session:
            survey = session.get(Survey, number)
            if survey is None:
                raise ApiError("id", NOT_FOUND, 404)
            return jsonify(results_json(session, survey))


def summary(session: Any, survey: Survey) -> dict[str, Any]:
    """What creating a survey answers: its id, and how many subjects and raters it has."""
    subjects, raters = people_counts(session, survey)
    return {"id": survey.id, "title": survey.title, "subjects": subjects, "raters": raters}
