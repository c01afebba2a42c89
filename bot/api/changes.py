"""Engineering changes from PLM (design §13): POST /changes (idempotent per source and
external_id: 201 new, 200 repeat, nothing sent twice), GET /changes/{id}, POST
/changes/{id}/retests and GET /reports/changes (first-retest hours, weekly median)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import AfterValidator, Field, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.api.base import (
    ApiDoc,
    ApiError,
    ApiModel,
    Operation,
    Text,
    parse_json,
    parse_model,
    row_id,
)
from bot.db import session_scope
from bot.models import Change, ChangeAck, ChangeRetest, Employee
from bot.services.change_answers import RetestConflict, report_from_outside
from bot.services.change_report import change_report, first_retest_hours
from bot.services.changes import (
    ChangeContext,
    ChangeDraft,
    FieldError,
    ImpactDraft,
    create_change,
    find_change,
)

if TYPE_CHECKING:
    from bot.state import BotState

SOURCE = r"^[A-Za-z0-9_.:-]+$"
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 1, 1)
REPORT_DAYS_MAX = 731
REPORT_DAYS_DEFAULT = 84  # twelve weeks


def _in_range(value: date) -> date:
    if not EARLIEST <= value < LATEST:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


Day = Annotated[date, AfterValidator(_in_range)]


class ImpactIn(ApiModel):
    """One row of the impact matrix: an `owner` (employee_no) or a `module` (its owners come
    from `python -m bot import-modules`), never both."""

    owner: Text(50) | None = None
    module: Text(100) | None = None
    object: Text(100)
    action: Text(200)
    hours: Annotated[float, Field(ge=0, le=10_000)]
    compensation_points: Annotated[int, Field(ge=0, le=1_000)] = 0

    @model_validator(mode="after")
    def _owner_or_module(self) -> ImpactIn:
        if (self.owner is None) == (self.module is None):
            raise ValueError("give either owner or module")
        return self


class ChangeIn(ApiModel):
    """An engineering or BOM change as PLM announces it."""

    source: Text(30, pattern=SOURCE)
    external_id: Text(100)
    version: Text(20)
    title: Text(200)
    description: Text(2000, min_length=0) = ""
    effective_date: Day
    author: Text(50)
    notify: Annotated[list[Text(50)], Field(max_length=500)] = []
    retest_due_hours: Annotated[int, Field(ge=1, le=24 * 90)] = 24
    impacts: Annotated[list[ImpactIn], Field(min_length=1, max_length=5_000)]


class AckOut(ApiModel):
    """An affected owner's confirmation."""

    owner: str
    decision: Literal["pending", "accepted", "negotiating", "rejected"]
    reason: str | None
    decided_at: datetime | None


class RetestOut(ApiModel):
    """An owner's retest task."""

    owner: str
    state: Literal["open", "reported"]
    result: Literal["pass", "fail"] | None
    reported_at: datetime | None
    due_at: datetime
    note: str | None
    points: int


class ChangeOut(ApiModel):
    """A change and where it stands."""

    id: int
    source: str
    external_id: str
    version: str
    title: str
    effective_date: date
    status: Literal["open", "closed"]
    created_at: datetime
    closed_at: datetime | None
    acks: list[AckOut]
    retests: list[RetestOut]
    first_retest_hours: float | None


class RetestIn(ApiModel):
    """A retest result reported by PLM for one owner."""

    owner: Text(50)
    result: Literal["pass", "fail"]
    note: Text(500, min_length=0) | None = None


class ChangeMetricOut(ApiModel):
    """One change of the report."""

    id: int
    source: str
    external_id: str
    version: str
    title: str
    created_at: datetime
    first_retest_at: datetime | None
    first_retest_hours: float | None


class WeekOut(ApiModel):
    """One week (Monday to Sunday, factory time) of the report."""

    week: str
    start: date
    changes: int
    reported: int
    median_first_retest_hours: float | None


class ChangeReportOut(ApiModel):
    """Hours from change to first reported retest, per change and the median per week."""

    from_: date = Field(alias="from")
    to: date
    baseline_hours: int
    median_first_retest_hours: float | None
    changes: list[ChangeMetricOut]
    weeks: list[WeekOut]


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when else None


def change_json(session: Session, change: Change) -> dict[str, Any]:
    """The API's view of a change (ChangeOut)."""
    acks = session.execute(
        select(ChangeAck, Employee.employee_no)
        .join(Employee, Employee.id == ChangeAck.owner_id)
        .where(ChangeAck.change_id == change.id)
        .order_by(ChangeAck.id)
    )
    retests = session.execute(
        select(ChangeRetest, Employee.employee_no)
        .join(Employee, Employee.id == ChangeRetest.owner_id)
        .where(ChangeRetest.change_id == change.id)
        .order_by(ChangeRetest.id)
    )
    return {
        "id": change.id, "source": change.source, "external_id": change.external_id,
        "version": change.version, "title": change.title,
        "effective_date": change.effective_date.isoformat(), "status": change.status,
        "created_at": _iso(change.created_at), "closed_at": _iso(change.closed_at),
        "acks": [{"owner": number, "decision": a.decision, "reason": a.reason,
                  "decided_at": _iso(a.decided_at)} for a, number in acks],
        "retests": [retest_json(r, number) for r, number in retests],
        "first_retest_hours": first_retest_hours(change),
    }  # fmt: skip


def retest_json(retest: ChangeRetest, owner_no: str) -> dict[str, Any]:
    """The API's view of a retest (RetestOut)."""
    return {
        "owner": owner_no, "state": retest.state, "result": retest.result,
        "reported_at": _iso(retest.reported_at), "due_at": _iso(retest.due_at),
        "note": retest.note, "points": retest.points,
    }  # fmt: skip


def _draft(body: ChangeIn) -> ChangeDraft:
    return ChangeDraft(
        source=body.source, external_id=body.external_id, version=body.version,
        title=body.title, description=body.description, effective_date=body.effective_date,
        author=body.author, notify=tuple(body.notify), retest_due_hours=body.retest_due_hours,
        impacts=tuple(ImpactDraft(object=i.object, action=i.action, hours=i.hours,
                                  compensation_points=i.compensation_points, owner=i.owner,
                                  module=i.module) for i in body.impacts),
    )  # fmt: skip


def _change_id(raw: str) -> int:
    return row_id(raw, "no change with this id")


def _day(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return _in_range(date.fromisoformat(raw))
    except ValueError:
        raise ApiError(name, "must be a date YYYY-MM-DD between 2000 and 2100") from None


def register(api: Blueprint, state: BotState, doc: ApiDoc) -> None:
    """Add the change routes to the API blueprint."""

    def context() -> ChangeContext:
        return ChangeContext(now=state.clock.now(), tz=state.config.tz, signer=state.signer)

    @api.post("/changes")
    @doc.add(Operation("POST", "/changes", "Announce an engineering change (idempotent per "
                       "source + external_id)", body=ChangeIn,
                       responses={201: ChangeOut, 200: ChangeOut}))  # fmt: skip
    def post_change() -> Any:
        body = parse_model(ChangeIn, parse_json(request.get_data()))
        try:
            with session_scope(state.session_factory) as session:
                found = find_change(session, body.source, body.external_id)
                if found is not None:
                    return jsonify(change_json(session, found)), 200
                change = create_change(session, _draft(body), context())
                result = change_json(session, change)
        except FieldError as exc:
            raise ApiError(exc.field, exc.message) from None
        except IntegrityError:
            # A concurrent request created the same (source, external_id) first.
            with session_scope(state.session_factory) as session:
                found = find_change(session, body.source, body.external_id)
                if found is None:
                    raise
                return jsonify(change_json(session, found)), 200
        state.notify_worker()
        return jsonify(result), 201

    @api.get("/changes/<change_id>")
    @doc.add(Operation("GET", "/changes/{id}", "A change: confirmations, retests and its "
                       "first-retest hours", responses={200: ChangeOut, 404: None}))  # fmt: skip
    def get_change(change_id: str) -> Any:
        with session_scope(state.session_factory) as session:
            change = session.get(Change, _change_id(change_id))
            if change is None:
                raise ApiError("id", "no change with this id", 404)
            return jsonify(change_json(session, change))

    @api.post("/changes/<change_id>/retests")
    @doc.add(Operation("POST", "/changes/{id}/retests", "Report an owner's retest (credits "
                       "the compensation; a repeat of the same result changes nothing)",
                       body=RetestIn,
                       responses={201: RetestOut, 200: RetestOut, 404: None, 409: None}))  # fmt: skip
    def post_retest(change_id: str) -> Any:
        number = _change_id(change_id)
        body = parse_model(RetestIn, parse_json(request.get_data()))
        try:
            with session_scope(state.session_factory) as session:
                change = session.get(Change, number)
                if change is None:
                    raise ApiError("id", "no change with this id", 404)
                retest, new = report_from_outside(session, change, body.owner, body.result,
                                                  context(), note=body.note)  # fmt: skip
                result = retest_json(retest, body.owner)
        except FieldError as exc:
            raise ApiError(exc.field, exc.message) from None
        except RetestConflict as exc:
            raise ApiError(exc.field, exc.message, 409) from None
        if new:
            state.notify_worker()
        return jsonify(result), 201 if new else 200

    @api.get("/reports/changes")
    @doc.add(Operation("GET", "/reports/changes", "Hours from change to first reported retest, "
                       "per change and the median per week (changes created from..to)",
                       responses={200: ChangeReportOut},
                       query={"from": "first day, YYYY-MM-DD (default: 12 weeks before `to`)",
                              "to": "last day, YYYY-MM-DD (default: today)"}))  # fmt: skip
    def get_report() -> Any:
        today = state.clock.now().astimezone(state.config.tz).date()
        end = _day("to", today)
        start = _day("from", end - timedelta(days=REPORT_DAYS_DEFAULT - 1))
        if start > end:
            raise ApiError("from", "must not be after `to`")
        if (end - start).days >= REPORT_DAYS_MAX:
            raise ApiError("from", f"the range may span at most {REPORT_DAYS_MAX} days")
        with session_scope(state.session_factory) as session:
            report = change_report(session, start, end, state.config.tz)
            return jsonify({
                "from": report.start.isoformat(), "to": report.end.isoformat(),
                "baseline_hours": report.baseline_hours,
                "median_first_retest_hours": report.median_hours,
                "changes": [{"id": m.change.id, "source": m.change.source,
                             "external_id": m.change.external_id, "version": m.change.version,
                             "title": m.change.title, "created_at": _iso(m.change.created_at),
                             "first_retest_at": _iso(m.change.first_retest_at),
                             "first_retest_hours": m.hours} for m in report.changes],
                "weeks": [{"week": w.label, "start": w.start.isoformat(), "changes": w.changes,
                           "reported": w.reported, "median_first_retest_hours": w.median_hours}
                          for w in report.weeks],
            })  # fmt: skip
