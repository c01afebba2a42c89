"""360 questionnaires on the local chat: creation through the API and the CLI, one card per
question, results only at three finished raters, and closing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from bot.models import Ask, AskState, Outbox, Survey, SurveyAnswer, SurveyRater, SurveyRelease
from bot.notices import surveys as notices
from bot.services.surveys import close_survey
from tests.factories import make_team
from tests.localchat import button, inbox, last, last_card, press, say

TOKEN = "api-token-0123456789abcdef"
DUE = "2026-12-10T18:00:00+08:00"
QUESTIONS = [
    {"text": "交接记录是否完整清楚", "kind": "scale"},
    {"text": "请举一个他最近做得好的具体例子", "kind": "text"},
]


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


def _api(client, method, path, body=None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def _body(subject, raters="peers+supervisor", **kw):
    body = {"title": "一班互评", "questions": QUESTIONS, "subjects": [subject.employee_no],
            "raters": raters, "due": DUE}  # fmt: skip
    return body | kw


def _answer(client, session, drain, rater, score, text):
    """`rater` taps `score` on the scale card, then types `text` for the text question."""
    card = last_card(session, rater, "360 评价 · ")
    press(client, rater, button(card, str(score)))
    drain()
    say(client, rater, text)
    drain()


def _team_of(session, workers=4):
    boss, team = make_team(session, workers=workers)
    return boss, team[0], team[1:]


def test_each_rater_gets_the_first_question_as_a_card_with_one_to_five(client, session, drain):
    boss, subject, peers = _team_of(session)
    created = _api(client, "POST", "/surveys", _body(subject))
    assert created.status_code == 201
    assert created.get_json()["subjects"] == 1 and created.get_json()["raters"] == 4
    drain()
    for rater in (*peers, boss):
        card = last_card(session, rater, "360 评价")
        assert notices.QUESTION_ABOUT.format(name=subject.name, department=f"（{subject.department.name}）") in card.lines  # fmt: skip
        assert [b.label for b in card.buttons] == ["1", "2", "3", "4", "5"]
        assert card.note == notices.ANONYMOUS_NOTE
    assert not [m for m in inbox(session, subject) if "360" in str(m.to_dict())]


def test_a_scale_answer_brings_the_text_question_and_the_next_message_answers_it(
    client, session, drain
):
    _boss, subject, (rater, *_rest) = _team_of(session)
    _api(client, "POST", "/surveys", _body(subject))
    drain()
    press(client, rater, button(last_card(session, rater, "360 评价"), "4"))
    drain()
    prompt = last_card(session, rater, notices.PROMPT_TITLE.format(index=2, total=2, name=subject.name))  # fmt: skip
    assert QUESTIONS[1]["text"] in prompt.lines[0]
    say(client, rater, "上周主动把模具点检表补齐了")
    drain()
    assert last(session, rater).text == notices.TAKEN + "\n" + notices.ALL_DONE.format(title="一班互评")  # fmt: skip
    answers = session.execute(select(SurveyAnswer.question, SurveyAnswer.score, SurveyAnswer.text)).all()  # fmt: skip
    assert sorted(answers, key=lambda a: a.question) == [(0, 4, None), (1, None, "上周主动把模具点检表补齐了")]  # fmt: skip


def test_the_settled_question_card_says_submitted_and_never_the_score(client, session, drain):
    _boss, subject, (rater, *_rest) = _team_of(session)
    _api(client, "POST", "/surveys", _body(subject))
    drain()
    press(client, rater, button(last_card(session, rater, "360 评价"), "2"))
    drain()
    settled = last_card(session, rater, "360 评价")
    assert settled.status == f"{notices.SUBMITTED} · 10:00"
    assert not settled.buttons
    ask = session.scalars(select(Ask).where(Ask.owner_id == rater.id)).first()
    assert (ask.answer, ask.answered_by_id, ask.reason, ask.answer_data) == (None, None, None, None)


def test_a_second_tap_on_an_answered_question_is_refused_and_stores_nothing(client, session, drain):
    _boss, subject, (rater, *_rest) = _team_of(session)
    _api(client, "POST", "/surveys", _body(subject))
    drain()
    card = last_card(session, rater, "360 评价")
    press(client, rater, button(card, "5"))
    press(client, rater, button(card, "1"))
    drain()
    assert last(session, rater).text == notices.ALREADY_SUBMITTED.format(time="10:00")
    assert session.scalar(select(func.count()).select_from(SurveyAnswer)) == 1


def test_a_survey_with_two_raters_finished_shows_no_results(client, session, drain):
    boss, subject, (a, b, _c) = _team_of(session)
    survey_id = _api(client, "POST", "/surveys", _body(subject)).get_json()["id"]
    drain()
    _answer(client, session, drain, a, 4, "交接记录写得很清楚")
    _answer(client, session, drain, b, 5, "主动帮新人调机")
    results = _api(client, "GET", f"/surveys/{survey_id}/results").get_json()
    (mine,) = results["subjects"]
    assert (mine["finished"], mine["results"], mine["released_raters"]) == (2, None, 0)
    for reader in (subject, boss):
        assert not [m for m in inbox(session, reader) if "评价结果" in str(m.to_dict())]


def test_a_third_rater_unlocks_the_results_for_subject_and_supervisor(client, session, drain):
    boss, subject, (a, b, c) = _team_of(session)
    survey_id = _api(client, "POST", "/surveys", _body(subject)).get_json()["id"]
    drain()
    _answer(client, session, drain, a, 4, "交接记录写得很清楚")
    _answer(client, session, drain, b, 5, "主动帮新人调机")
    _answer(client, session, drain, c, 3, "首检照片上传及时")
    for reader in (subject, boss):
        card = last_card(session, reader, notices.RESULTS_TITLE.format(title="一班互评"))
        assert notices.RESULTS_AVERAGE.format(index=1, text=QUESTIONS[0]["text"], average=4.0, count=3) in card.lines  # fmt: skip
        shown = {line.strip(" ·") for line in card.lines if line.startswith("  · ")}
        assert shown == {"交接记录写得很清楚", "主动帮新人调机", "首检照片上传及时"}
        for rater in (a, b, c):
            assert rater.name not in card.as_text()
    (mine,) = _api(client, "GET", f"/surveys/{survey_id}/results").get_json()["subjects"]
    assert mine["released_raters"] == 3
    scale, text = mine["results"]
    assert (scale["average"], scale["count"]) == (4.0, 3)
    assert sorted(text["answers"]) == sorted(["交接记录写得很清楚", "主动帮新人调机", "首检照片上传及时"])  # fmt: skip


def test_results_change_only_after_three_more_raters_finish(client, session, drain):
    boss, subject, peers = _team_of(session, workers=7)
    survey_id = _api(client, "POST", "/surveys", _body(subject)).get_json()["id"]
    drain()
    for i, rater in enumerate(peers[:4]):
        _answer(client, session, drain, rater, 3, f"例子{i}")
    (mine,) = _api(client, "GET", f"/surveys/{survey_id}/results").get_json()["subjects"]
    assert (mine["finished"], mine["released_raters"]) == (4, 3)
    assert mine["results"][0]["count"] == 3
    for i, rater in enumerate([*peers[4:], boss], start=4):
        _answer(client, session, drain, rater, 5, f"例子{i}")
    (mine,) = _api(client, "GET", f"/surveys/{survey_id}/results").get_json()["subjects"]
    assert (mine["finished"], mine["released_raters"]) == (7, 6)
    assert session.scalar(select(func.count()).select_from(SurveyRelease)) == 2


def test_two_releases_never_differ_by_one_raters_answer(client, session, drain):
    """Raters who answered only the first question count in a release; the next release waits
    until every question has three more answers, so subtracting releases reveals no score."""
    boss, subject, peers = _team_of(session, workers=9)
    survey_id = _api(client, "POST", "/surveys", _body(subject)).get_json()["id"]
    drain()
    early = peers[3:5]
    for rater in early:  # tap the scale, leave the text question for later
        press(client, rater, button(last_card(session, rater, "360 评价 · "), "3"))
        drain()
    for i, rater in enumerate(peers[:3]):
        _answer(client, session, drain, rater, 3, f"例子{i}")
    (mine,) = _api(client, "GET", f"/surveys/{survey_id}/results").get_json()["subjects"]
    assert mine["released_raters"] == 3 and mine["results"][0]["count"] == 5
    for i, rater in enumerate(early, start=3):
        say(client, rater, f"例子{i}")
        drain()
    _answer(client, session, drain, peers[5], 1, "例子5")  # six finished, first question +1
    (mine,) = _api(client, "GET", f"/surveys/{survey_id}/results").get_json()["subjects"]
    assert (mine["finished"], mine["released_raters"]) == (6, 3)
    assert mine["results"][0] == {**mine["results"][0], "count": 5, "average": 3.0}
    for i, rater in enumerate(peers[6:], start=6):
        _answer(client, session, drain, rater, 5, f"例子{i}")
    releases = session.scalars(select(SurveyRelease).order_by(SurveyRelease.raters)).all()
    counts = [[item["count"] for item in r.results] for r in releases]
    assert len(releases) == 2 and counts[0] == [5, 3]
    assert all(now - before >= 3 for before, now in zip(counts[0], counts[1], strict=True))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"questions": [{"text": "x", "kind": "stars"}]}, "questions[0].kind"),
        ({"questions": []}, "questions"),
        ({"title": ""}, "title"),
        ({"subjects": ["E404"]}, "subjects[0]"),
        ({"due": "2026-11-01T18:00:00+08:00"}, "due"),
        ({"due": "next friday"}, "due"),
        ({"raters": "everyone"}, "raters"),
        ({"raters": {"T1": [5]}}, "raters.T1[0]"),
    ],
    ids=[
        "bad-kind",
        "no-questions",
        "no-title",
        "unknown-subject",
        "past-due",
        "bad-due",
        "bad-raters",
        "bad-rater-entry",
    ],  # fmt: skip
)
def test_a_bad_survey_is_refused_naming_the_field_and_creates_nothing(
    client, session, change, field
):
    _boss, subject, _peers = _team_of(session)
    response = _api(client, "POST", "/surveys", _body(subject) | change)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert session.scalar(select(func.count()).select_from(Survey)) == 0
    assert session.scalar(select(func.count(Outbox.id))) == 0


def test_explicit_raters_are_checked_one_by_one(client, session):
    _boss, subject, (a, b, _c) = _team_of(session)
    raters = {subject.employee_no: [a.employee_no, b.employee_no, "E404"]}
    response = _api(client, "POST", "/surveys", _body(subject, raters=raters))
    assert response.get_json()["field"] == f"raters.{subject.employee_no}[2]"
    raters = {subject.employee_no: [a.employee_no, subject.employee_no, b.employee_no]}
    response = _api(client, "POST", "/surveys", _body(subject, raters=raters))
    assert response.get_json()["field"] == f"raters.{subject.employee_no}[1]"
    assert session.scalar(select(func.count()).select_from(Survey)) == 0


def test_fewer_than_three_possible_raters_is_refused(client, session):
    _boss, (subject,) = make_team(session, workers=1)  # the supervisor is the only rater
    response = _api(client, "POST", "/surveys", _body(subject))
    assert (response.status_code, response.get_json()["field"]) == (400, "subjects[0]")


def test_the_same_survey_posted_twice_sends_nothing_new(client, session, drain):
    _boss, subject, _peers = _team_of(session)
    first = _api(client, "POST", "/surveys", _body(subject))
    drain()
    sent = session.scalar(select(func.count(Outbox.id)))
    again = _api(client, "POST", "/surveys", _body(subject))
    drain()
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert session.scalar(select(func.count(Outbox.id))) == sent


def test_the_raters_own_tasks_list_shows_their_open_question(client, session, drain):
    _boss, subject, (rater, *_rest) = _team_of(session)
    _api(client, "POST", "/surveys", _body(subject))
    drain()
    say(client, rater, "任务")
    drain()
    assert any(isinstance(m, type(last_card(session, rater))) and m.title.startswith("我的待办")
               for m in inbox(session, rater))  # fmt: skip
    assert last_card(session, rater).title == notices.QUESTION_TITLE.format(title="一班互评")


def test_someone_else_cannot_answer_a_raters_card(client, session, drain):
    _boss, subject, (rater, *_rest) = _team_of(session)
    _api(client, "POST", "/surveys", _body(subject))
    drain()
    press(client, subject, button(last_card(session, rater, "360 评价"), "1"))
    drain()
    assert session.scalar(select(func.count()).select_from(SurveyAnswer)) == 0


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def run(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("BOT_SECRET_KEY", "c" * 32)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


def _file(tmp_path, body):
    path = tmp_path / "survey.json"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_cli_create_list_and_close(run, tmp_path, session):
    boss, subject, _peers = _team_of(session)
    body = _body(subject, due="2099-12-31T18:00:00+08:00")
    created = run("surveys", "create", _file(tmp_path, body))
    assert created.exit_code == 0, created.output
    assert created.output.startswith("created survey #1: 1 subjects, 4 raters")
    assert session.scalar(select(func.count(Ask.id)).where(Ask.kind == notices.SURVEY_KIND)) == 4
    again = run("surveys", "create", _file(tmp_path, body))
    assert "already exists" in again.output
    listed = run("surveys", "list")
    assert listed.output.split("\t")[:2] == ["1", "open"]
    assert "results 0/1\tfinished 0/4" in listed.output
    closed = run("surveys", "close", "1")
    assert closed.output.startswith("closed survey #1: 4 waiting questions withdrawn")
    session.commit()  # a fresh snapshot: the CLI wrote through its own connection
    states = set(session.scalars(select(Ask.state).where(Ask.kind == notices.SURVEY_KIND)))
    assert states == {AskState.CLOSED}
    assert "already closed" in run("surveys", "close", "1").output


def test_cli_refuses_a_bad_file_naming_the_field(run, tmp_path, session):
    _boss, subject, _peers = _team_of(session)
    body = _body(subject, due="2099-12-31T18:00:00+08:00", subjects=[subject.employee_no, "E404"])
    result = run("surveys", "create", _file(tmp_path, body))
    assert result.exit_code == 1
    assert "subjects[1]: no active employee E404" in result.output
    assert session.scalar(select(func.count()).select_from(SurveyRater)) == 0


def test_a_closed_survey_takes_no_more_answers(client, session, drain, clock):
    _boss, subject, (rater, *_rest) = _team_of(session)
    survey_id = _api(client, "POST", "/surveys", _body(subject)).get_json()["id"]
    drain()
    card = last_card(session, rater, "360 评价")
    assert close_survey(session, session.get(Survey, survey_id), now=clock.now()) == 4
    drain()
    press(client, rater, button(card, "3"))
    drain()
    assert session.scalar(select(func.count()).select_from(SurveyAnswer)) == 0
    assert last_card(session, rater, "360 评价").status == notices.CLOSED_STATUS


def test_supervisor_is_not_asked_when_explicit_raters_leave_them_out(client, session, drain):
    boss, subject, (a, b, c) = _team_of(session)
    raters = {subject.employee_no: [a.employee_no, b.employee_no, c.employee_no]}
    _api(client, "POST", "/surveys", _body(subject, raters=raters))
    drain()
    assert not [m for m in inbox(session, boss) if "360" in str(m.to_dict())]


def test_an_unanswered_question_is_reminded_once_and_a_second_tick_sends_nothing(
    client, session, drain, state, clock
):
    from bot.jobs import run_job
    from bot.notices.asks import REMINDER_ICON

    _boss, subject, (rater, *_rest) = _team_of(session)
    _api(client, "POST", "/surveys", _body(subject))
    drain()

    def tick():
        run_job(state.session_factory, "escalation_tick", clock.now(), tz=state.config.tz,
                signer=state.signer, media_dir=state.config.media_dir)  # fmt: skip
        drain()

    def reminders():
        return [m for m in inbox(session, rater) if getattr(m, "title", "").startswith(REMINDER_ICON)]  # fmt: skip

    clock.advance(hours=23, minutes=59)
    tick()
    assert reminders() == []
    clock.advance(minutes=1)
    tick()
    tick()
    (reminder,) = reminders()
    assert notices.QUESTION_TITLE.format(title="一班互评") in reminder.title
    assert [b.label for b in reminder.buttons] == ["1", "2", "3", "4", "5"]


def test_the_openapi_document_describes_the_survey_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/surveys"]) == {"post"}
    assert "get" in paths["/api/v1/surveys/{id}/results"]


def test_a_rater_of_two_subjects_gets_the_second_subjects_questions_after_the_first(
    client, session, drain
):
    _boss, first, (second, rater, _other) = _team_of(session)
    body = _body(first, subjects=[first.employee_no, second.employee_no])
    assert _api(client, "POST", "/surveys", body).status_code == 201
    drain()
    assert len([m for m in inbox(session, rater) if isinstance(m, type(last_card(session, rater)))]) == 1  # fmt: skip
    _answer(client, session, drain, rater, 4, "换模前把工装准备齐全")
    card = last_card(session, rater, "360 评价 · ")
    about = notices.QUESTION_ABOUT.format(name=second.name, department=f"（{second.department.name}）")  # fmt: skip
    assert card.lines[0] == about and not card.status
