"""A 360 survey answered on every platform (WeCom, DingTalk and Feishu fakes, the local chat):
results arrive at the third rater, and nothing the run leaves behind — a table row, a log
record, an API or CLI answer, a callback answer, a delivered message — ties a rater to an
answer (design §14: anonymity is a hard rule)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, select

from bot.cli import cli
from bot.models import Employee, Role, SurveyAnswer
from bot.notices import surveys as notices
from tests.drivers import Driver, fixtures
from tests.factories import make_department, make_employee

TOKEN = "api-token-0123456789abcdef"
QUESTIONS = [
    {"text": "交接记录是否完整清楚", "kind": "scale"},
    {"text": "请举一个最近做得好的具体例子", "kind": "text"},
]
SCORES = (2, 5, 4, 3)
# Each rater's text answer carries a tag no other text has, so it can be found anywhere.
TAGS = ("QX7A", "QX7B", "QX7C", "QX7D")


# Every test here runs once per platform, through its driver.
platform, fake, driver = fixtures.platform, fixtures.fake, fixtures.driver


@pytest.fixture
def platform_env(platform, fake):
    return {**fixtures.env_for(platform, fake), "BOT_API_TOKEN": TOKEN}


@dataclass
class Rater:
    """A rater, what the platform calls them, and what they answered."""

    employee: Employee
    uid: str
    text: str = ""
    pressed: str = ""  # the button value their scale answer sent
    offered: list[str] = field(default_factory=list)  # every value that card offered

    def names(self) -> list[str]:
        """Everything that identifies this person in text."""
        return [self.employee.employee_no, self.employee.name, self.uid]


@dataclass
class Run:
    """One survey run: the people and every answer the outside world got."""

    subject: Any
    boss: Any
    raters: list[Rater]
    responses: list[str] = field(default_factory=list)


def _api(client, method, path, body=None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def run_survey(driver: Driver, session, drain, client, finishing: int = 4) -> Run:
    """被评人 is rated by four named raters (not their supervisor, who reads the results);
    the first `finishing` raters answer both questions."""
    dept = make_department(session, "冲压车间/评价组")
    boss = make_employee(session, name="王主管", role=Role.SUPERVISOR, department=dept)
    subject = make_employee(session, name="被评人", employee_no="SUBJ01", supervisor=boss)
    raters = [
        make_employee(session, name=f"{mark}评价人", employee_no=f"RATER0{i}", supervisor=boss)
        for i, mark in enumerate("甲乙丙丁", start=1)
    ]
    run = Run(
        (subject, driver.enroll(session, subject)),
        (boss, driver.enroll(session, boss)),
        [Rater(r, driver.enroll(session, r)) for r in raters],
    )
    body = {"title": "季度互评", "questions": QUESTIONS, "subjects": ["SUBJ01"],
            "raters": {"SUBJ01": [r.employee_no for r in raters]},
            "due": "2026-12-10T18:00:00+08:00"}  # fmt: skip
    created = _api(client, "POST", "/surveys", body)
    assert created.status_code == 201
    run.responses.append(created.get_data(as_text=True))
    drain()
    for rater, score, tag in list(zip(run.raters, SCORES, TAGS, strict=True))[:finishing]:
        card = driver.last_card(rater.uid, notices.QUESTION_TITLE.format(title="季度互评"))
        rater.pressed = _signed(card.value(str(score)))
        rater.offered = [_signed(v) for v in card.values.values()]
        driver.press(rater.uid, card, str(score))
        drain()
        rater.text = f"主动补齐了点检表并带新人复核（{tag}）"
        driver.say(rater.uid, rater.text)
        drain()
    results = _api(client, "GET", "/surveys/1/results")
    run.responses.append(results.get_data(as_text=True))
    return run


def test_the_third_rater_on_the_platform_unlocks_the_results(driver, session, drain, client):
    run = run_survey(driver, session, drain, client, finishing=3)
    title = notices.RESULTS_TITLE.format(title="季度互评")
    for _person, uid in (run.subject, run.boss):
        # A card nobody acts on may arrive as text (DingTalk): look at what was delivered.
        (results,) = [m.text for m in driver.received(uid) if title in m.text]
        assert results.count("（QX7") == 3
        assert "3.7 分" in results


def test_two_raters_on_the_platform_show_no_results(driver, session, drain, client):
    run = run_survey(driver, session, drain, client, finishing=2)
    for _person, uid in (run.subject, run.boss):
        assert not any("评价结果" in m.text for m in driver.received(uid))
    assert json.loads(run.responses[-1])["subjects"][0]["results"] is None


def _signed(value: Any) -> str:
    """The signed button value a platform sends back (Feishu wraps it: {"v": …})."""
    return value["v"] if isinstance(value, dict) else value


def _ties(text: str, rater: Rater, ids: set[int] = frozenset()) -> bool:
    """True when `text` (with the employee ids `ids` it references) names `rater` and holds
    their answer: their text, or the one button value they pressed without the card's others
    (the card itself offered all five, to them alone)."""
    named = rater.employee.id in ids or any(n in text for n in rater.names())
    pressed_alone = rater.pressed in text and not all(v in text for v in rater.offered)
    return named and (rater.text in text or pressed_alone)


def _table_records(session) -> list[tuple[str, str, set[int]]]:
    """(table, row as JSON text, employee ids its foreign keys hold) for every row of every
    table in the database, found by reflection (so a table added later is read too)."""
    meta = MetaData()
    meta.reflect(bind=session.get_bind())
    out = []
    for table in meta.sorted_tables:
        people = [c.name for c in table.columns
                  if any(fk.column.table.name == "employees" for fk in c.foreign_keys)]  # fmt: skip
        if table.name == "employees":
            people.append("id")
        for row in session.execute(select(table)).mappings():
            text = json.dumps(dict(row), default=str, ensure_ascii=False)
            out.append((table.name, text, {row[c] for c in people if row[c] is not None}))
    return out


def test_no_table_log_or_response_ties_a_rater_to_an_answer(
    driver, session, drain, client, caplog, db_url, monkeypatch, tmp_path
):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement, too
    run = run_survey(driver, session, drain, client)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("BOT_SECRET_KEY", "c" * 32)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    run.responses.append(CliRunner().invoke(cli, ["surveys", "list"]).output)
    session.commit()

    tables = _table_records(session)
    # The run really left answers and raters behind (the checks below can find both).
    answers = [t for name, t, _ in tables if name == "survey_answers"]
    assert all(any(r.text in t for t in answers) for r in run.raters)
    assert {c.name for c in SurveyAnswer.__table__.columns} == {
        "id", "survey_id", "subject_id", "question", "score", "text"
    }  # fmt: skip
    for rater in run.raters:
        assert any(rater.employee.id in ids for _n, _t, ids in tables if _n == "asks")
        leaks = [(name, text[:300]) for name, text, ids in tables if _ties(text, rater, ids)]
        assert leaks == [], f"{rater.employee.name}'s answer is tied to them in {leaks}"

    logs = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert logs, "the run logged nothing at DEBUG: the log check would prove nothing"
    for rater in run.raters:
        assert not [m for m in logs if rater.text in m or rater.pressed in m]

    delivered = [m.text for _p, uid in (run.subject, run.boss) for m in driver.received(uid)] + [
        m.text for r in run.raters for m in driver.received(r.uid)
    ]
    toasts = [t for said in driver.toasts.values() for t in said]
    outside = run.responses + delivered + toasts
    assert any(all(r.text in t for r in run.raters[:3]) for t in outside)  # the results
    for rater in run.raters:
        assert not [t for t in outside if _ties(t, rater)]
