"""问卷: 360 questionnaires (design §14) — progress, closing one, and the released results.

Everything shown comes from `results_json`, the call behind GET /api/v1/surveys/{id}/results:
per subject how many raters were asked and how many finished, and the aggregates released once
MIN_RATERS of them had (averages, text answers shuffled). Anonymity is a hard rule: no page says
who answered, or who has not. Closing is `close_survey`, as `python -m bot surveys close`, and
is audited. Surveys are created through the API or the CLI (a JSON file of questions and people).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, url_for
from sqlalchemy import select

from bot.db import ROW_ID_MAX
from bot.models import Survey
from bot.notices.surveys import MIN_RATERS
from bot.services.audit import record
from bot.services.survey_results import results_json
from bot.services.surveys import close_survey
from console.pages.base import Page
from console.web import db, flash, local, me, now, page, state

CLOSED = "已关闭问卷 #{id}：收回 {withdrawn} 道待答题目；已汇总的结果保留。"
ALREADY_CLOSED = "问卷 #{id} 已经关闭。"
STATES = {"open": "进行中", "closed": "已关闭"}


def _summary(survey: Survey, results: dict[str, Any]) -> dict[str, Any]:
    subjects = results["subjects"]
    return {
        "id": survey.id,
        "title": survey.title,
        "open": survey.state == "open",
        "state": STATES.get(survey.state, survey.state),
        "due": local(survey.due_at),
        "created": local(survey.created_at),
        "closed": local(survey.closed_at),
        "questions": len(survey.questions),
        "subjects": len(subjects),
        "released": sum(1 for s in subjects if s["results"] is not None),
        "finished": sum(s["finished"] for s in subjects),
        "invited": sum(s["invited"] for s in subjects),
    }


def view() -> str:
    """Every survey, newest first, with its progress and a close button while open."""
    with db() as session:
        surveys = list(session.scalars(select(Survey).order_by(Survey.id.desc())))
        items = [_summary(s, results_json(session, s)) for s in surveys]
    return page("console/surveys.html", items=items, min_raters=MIN_RATERS)


def results(survey_id: int) -> str:
    """One survey: per subject the counts, and the released aggregates (none below 3)."""
    with db() as session:
        survey = session.get(Survey, survey_id)
        if survey is None:
            abort(404)
        released = results_json(session, survey)
        item = _summary(survey, released)
    return page("console/survey_results.html", item=item, subjects=released["subjects"],
                min_raters=MIN_RATERS)  # fmt: skip


def close(survey_id: int) -> Any:
    """Close a survey through the CLI's service call; its waiting cards are withdrawn."""
    with db() as session:
        survey = session.get(Survey, survey_id)
        if survey is None:
            abort(404)
        withdrawn = close_survey(session, survey, now=now())
        if withdrawn is None:
            flash(session, ALREADY_CLOSED.format(id=survey_id), "error")
        else:
            record(session, me(session), "survey.close", "survey", survey_id,
                   {"title": survey.title, "withdrawn": withdrawn}, now=now())  # fmt: skip
            flash(session, CLOSED.format(id=survey_id, withdrawn=withdrawn))
    state().notify_worker()  # the withdrawn cards say so
    return redirect(url_for("console.surveys"))


def install(bp: Blueprint) -> None:
    """/console/surveys/, one survey's results, and closing one."""
    bp.add_url_rule("/surveys/", "surveys", view)
    # An id past the database's integer range is a 404 here, not a database error.
    bp.add_url_rule(f"/surveys/<int(max={ROW_ID_MAX}):survey_id>", "survey_results", results)
    bp.add_url_rule(f"/surveys/<int(max={ROW_ID_MAX}):survey_id>/close", "survey_close", close,
                    methods=["POST"])  # fmt: skip


PAGE = Page("surveys", "问卷", install=install)
