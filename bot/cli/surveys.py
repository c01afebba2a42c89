"""`python -m bot surveys create FILE.json | list | close ID`: 360 questionnaires (design §14).

The file is the body of `POST /api/v1/surveys`, checked by the same model; a bad field stops
with its name and nothing is created. Lists and summaries show counts, never who answered what.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from bot.api.base import ApiError
from bot.api.surveys import parse_survey
from bot.cli.support import cli_config, cli_session
from bot.models import Survey
from bot.services.survey_results import latest_release
from bot.services.surveys import (
    SurveyInvalid,
    close_survey,
    create_survey,
    finished_raters,
    invited_raters,
    people_counts,
    subjects_of,
)
from bot.signing import Signer

JSON_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group("surveys")
def surveys_group() -> None:
    """360 questionnaires: create from a JSON file, list, close."""


@surveys_group.command("create")
@click.argument("file", type=JSON_FILE)
def surveys_create(file: Path) -> None:
    """Start the survey in FILE (the POST /api/v1/surveys body); a repeat sends nothing."""
    try:
        data = json.loads(file.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        _fail(f"{file}: not a UTF-8 JSON file ({exc.__class__.__name__})")
    try:
        body = parse_survey(data)
    except ApiError as exc:
        _fail(f"{exc.field}: {exc.message}")
    signer = Signer(cli_config().secret_key)
    try:
        with cli_session() as (session, clock):
            survey, created = create_survey(session, body.spec(), now=clock.now(), signer=signer)
            subjects, raters = people_counts(session, survey)
            survey_id = survey.id
    except SurveyInvalid as exc:
        _fail(f"{exc.field}: {exc.message}")
    if created:
        click.echo(
            f"created survey #{survey_id}: {subjects} subjects, {raters} raters; "
            f"each rater got their first question (已发出问卷 #{survey_id})"
        )
    else:
        click.echo(f"survey #{survey_id} already exists and is open; nothing sent (问卷已存在)")


@surveys_group.command("list")
def surveys_list() -> None:
    """One line per survey: ID, state, due, title, subjects with results, raters finished."""
    with cli_session() as (session, _clock):
        surveys = list(session.scalars(select(Survey).order_by(Survey.id)))
        if not surveys:
            click.echo("no surveys yet (还没有问卷)")
        for survey in surveys:
            subjects = subjects_of(session, survey)
            invited = finished = released = 0
            for subject in subjects:
                invited += invited_raters(session, survey, subject.id)
                finished += finished_raters(session, survey, subject.id)
                released += latest_release(session, survey.id, subject.id) is not None
            due = survey.due_at.isoformat() if survey.due_at else "-"
            click.echo(
                f"{survey.id}\t{survey.state}\t{due}\t{survey.title}\t"
                f"results {released}/{len(subjects)}\tfinished {finished}/{invited}"
            )


@surveys_group.command("close")
@click.argument("survey_id", type=int)
def surveys_close(survey_id: int) -> None:
    """Close a survey: waiting question cards are withdrawn; released results stay."""
    with cli_session() as (session, clock):
        survey = session.get(Survey, survey_id)
        if survey is None:
            _fail(f"no survey #{survey_id}")
            return
        withdrawn = close_survey(session, survey, now=clock.now())
        subjects = subjects_of(session, survey)
        released = sum(latest_release(session, survey.id, s.id) is not None for s in subjects)
    if withdrawn is None:
        click.echo(f"survey #{survey_id} was already closed; nothing changed")
        return
    click.echo(
        f"closed survey #{survey_id}: {withdrawn} waiting questions withdrawn; "
        f"results released for {released} of {len(subjects)} subjects"
    )
