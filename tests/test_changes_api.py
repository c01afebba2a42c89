"""The change API (design §13): POST /changes (201 new, 200 repeat, nothing sent twice; 400
naming the field and nothing created), GET /changes/{id}, POST /changes/{id}/retests and
GET /reports/changes, with bodies that match the documented models."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from bot.api.changes import ChangeOut, ChangeReportOut, RetestOut
from bot.models import (
    Ask,
    AskState,
    Change,
    ChangeImpact,
    ChangeRetest,
    LedgerEntry,
    Outbox,
)
from bot.notices import changes as notices
from bot.services.ledger import balance
from tests.change_support import (
    HEADERS,
    IMPACT_TITLE,
    RETEST_TITLE,
    TOKEN,
    add_module,
    change_body,
    impact,
    make_plant,
    post_change,
    post_retest,
    the_change,
)
from tests.conftest import TZ
from tests.factories import make_employee
from tests.localchat import button, inbox, last, last_card, press


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


@pytest.fixture
def plant(session):
    return make_plant(session)


def _count(session, model) -> int:
    session.commit()
    return session.scalar(select(func.count(model.id)))


def _accept(client, session, drain, owner):
    drain()
    press(client, owner, button(last_card(session, owner, IMPACT_TITLE), "接受"))
    drain()


# -- POST /changes ----------------------------------------------------------------------------------


def test_a_new_change_is_201_with_every_owner_pending(client, session, plant):
    add_module(session, "冲压模具", plant["zhang"], plant["liu"])
    response = post_change(client, change_body(plant["engineer"], impact(module="冲压模具")))
    assert response.status_code == 201
    data = ChangeOut.model_validate(response.get_json())
    assert data.status == "open" and data.first_retest_hours is None
    assert [(a.owner, a.decision) for a in data.acks] == [
        (plant["zhang"].employee_no, "pending"), (plant["liu"].employee_no, "pending"),
    ]  # fmt: skip


def test_every_ask_is_queued_in_the_request_itself(client, session, plant):
    """The owners' cards, the notice and the author's summary are outbox rows when the 201
    answers: nothing waits for a job to reach anyone."""
    add_module(session, "冲压模具", plant["zhang"], plant["liu"])
    body = change_body(plant["engineer"], impact(module="冲压模具"), impact(owner=plant["zhang"]),
                       notify=[plant["boss"].employee_no])  # fmt: skip
    assert post_change(client, body).status_code == 201
    kinds = dict(session.execute(select(Ask.kind, func.count(Ask.id)).group_by(Ask.kind)).all())
    assert kinds == {notices.IMPACT_KIND: 2, notices.NOTICE_KIND: 1}
    assert _count(session, Outbox) == 4
    assert _count(session, ChangeImpact) == 3


def test_a_repeated_post_is_200_and_sends_nothing_twice(client, session, drain, plant):
    body = change_body(plant["engineer"], impact(owner=plant["zhang"]))
    first = post_change(client, body)
    drain()
    sent = _count(session, Outbox)
    again = post_change(client, {**body, "title": "另一个标题"})
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    drain()
    assert _count(session, Outbox) == sent and _count(session, Change) == 1
    assert len([m for m in inbox(session, plant["zhang"]) if getattr(m, "title", "")
                == IMPACT_TITLE]) == 1  # fmt: skip


def test_the_same_external_id_from_another_source_is_another_change(client, session, plant):
    body = change_body(plant["engineer"], impact(owner=plant["zhang"]))
    assert post_change(client, body).status_code == 201
    assert post_change(client, {**body, "source": "erp"}).status_code == 201


def _inactive(session, plant):
    gone = make_employee(session, active=False)
    add_module(session, "旧模具", gone)
    return gone


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p, s: {"impacts": [impact(owner=p["zhang"]), impact(module="不存在的模块")]},
         "impacts[1].module"),
        (lambda p, s: {"impacts": [{**impact(), "owner": "NOBODY"}]}, "impacts[0].owner"),
        (lambda p, s: {"impacts": [impact(owner=_inactive(s, p))]}, "impacts[0].owner"),
        (lambda p, s: (_inactive(s, p), {"impacts": [impact(module="旧模具")]})[1],
         "impacts[0].module"),
        (lambda p, s: {"impacts": [impact(owner=p["zhang"], module="冲压模具")]}, "impacts[0]"),
        (lambda p, s: {"impacts": [impact()]}, "impacts[0]"),
        (lambda p, s: {"impacts": [impact(owner=p["zhang"], hours=-1)]}, "impacts[0].hours"),
        (lambda p, s: {"impacts": [impact(owner=p["zhang"], compensation_points=2.5)]},
         "impacts[0].compensation_points"),
        (lambda p, s: {"impacts": []}, "impacts"),
        (lambda p, s: {"notify": ["NOBODY"]}, "notify[0]"),
        (lambda p, s: {"author": "NOBODY"}, "author"),
        (lambda p, s: {"effective_date": "12/03/2026"}, "effective_date"),
        (lambda p, s: {"retest_due_hours": 0}, "retest_due_hours"),
        (lambda p, s: {"external_id": ""}, "external_id"),
    ],
    ids=["unknown-module", "unknown-owner", "inactive-owner", "module-without-active-owner",
         "owner-and-module", "neither", "negative-hours", "fractional-points", "no-impacts",
         "unknown-notify", "unknown-author", "bad-date", "zero-due-hours", "empty-external-id"],
)  # fmt: skip
def test_bad_input_is_400_naming_the_field_and_creates_nothing(
    client, session, plant, change, field
):
    body = change_body(plant["engineer"], impact(owner=plant["zhang"]))
    body.update(change(plant, session))
    response = post_change(client, body)
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert (_count(session, Change), _count(session, Ask), _count(session, Outbox)) == (0, 0, 0)


def test_the_api_needs_the_token(client, plant):
    body = change_body(plant["engineer"], impact(owner=plant["zhang"]))
    assert client.post("/api/v1/changes", json=body).status_code == 401


# -- GET /changes/{id} ------------------------------------------------------------------------------


def test_get_shows_decisions_and_retests(client, session, drain, plant):
    zhang, liu = plant["zhang"], plant["liu"]
    post_change(client, change_body(plant["engineer"], impact(owner=zhang), impact(owner=liu)))
    _accept(client, session, drain, zhang)
    change = the_change(session)
    data = ChangeOut.model_validate(
        client.get(f"/api/v1/changes/{change.id}", headers=HEADERS).get_json()
    )
    assert [(a.owner, a.decision) for a in data.acks] == [
        (zhang.employee_no, "accepted"), (liu.employee_no, "pending"),
    ]  # fmt: skip
    assert data.acks[0].decided_at == datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
    [retest] = data.retests
    assert (retest.owner, retest.state, retest.result, retest.points) == (
        zhang.employee_no, "open", None, 5,
    )  # fmt: skip
    assert retest.due_at == datetime(2026, 12, 4, 0, 0, tzinfo=TZ)


@pytest.mark.parametrize("ref", ["999", "abc"])
def test_an_unknown_change_is_404(client, ref):
    response = client.get(f"/api/v1/changes/{ref}", headers=HEADERS)
    assert response.status_code == 404 and response.get_json()["field"] == "id"


# -- POST /changes/{id}/retests ---------------------------------------------------------------------


def test_plm_reports_a_retest_credits_it_and_answers_the_task_in_the_owners_name(
    client, session, drain, plant
):
    zhang = plant["zhang"]
    post_change(client, change_body(plant["engineer"], impact(owner=zhang)))
    _accept(client, session, drain, zhang)
    change = the_change(session)
    response = post_retest(client, change.id, {"owner": zhang.employee_no, "result": "pass",
                                               "note": "三坐标测量合格"})  # fmt: skip
    assert response.status_code == 201
    session.commit()  # end the test session's read snapshot
    data = RetestOut.model_validate(response.get_json())
    assert (data.state, data.result, data.note, data.points) == ("reported", "pass",
                                                                 "三坐标测量合格", 5)  # fmt: skip
    assert balance(session, zhang.id) == 5
    ask = session.scalars(select(Ask).where(Ask.kind == notices.RETEST_KIND)).one()
    assert (ask.state, ask.answer, ask.answered_by_id) == (AskState.ANSWERED, "pass", zhang.id)
    drain()
    assert last_card(session, zhang, RETEST_TITLE).status.startswith(f"重测通过 · {zhang.name}")
    assert last(session, zhang).text == notices.TO_OWNER_BY_API_CREDITED.format(
        version="B", title="3号模具冲头尺寸变更", result="通过", points=5
    )
    retest = session.scalars(select(ChangeRetest)).one()
    assert (retest.source, retest.reported_by_id) == ("api", None)
    assert the_change(session).status == "closed"  # the only owner, retest reported


def test_a_repeated_retest_report_is_200_and_credits_once(client, session, drain, plant):
    zhang = plant["zhang"]
    post_change(
        client, change_body(plant["engineer"], impact(owner=zhang), impact(owner=plant["liu"]))
    )
    _accept(client, session, drain, zhang)
    change_id = the_change(session).id
    body = {"owner": zhang.employee_no, "result": "fail"}
    assert post_retest(client, change_id, body).status_code == 201
    assert post_retest(client, change_id, body).status_code == 200
    assert _count(session, LedgerEntry) == 1
    conflict = post_retest(client, change_id, {**body, "result": "pass"})
    assert conflict.status_code == 409 and conflict.get_json()["field"] == "result"


def test_a_retest_before_acceptance_is_409(client, session, plant):
    post_change(client, change_body(plant["engineer"], impact(owner=plant["zhang"])))
    change_id = the_change(session).id
    response = post_retest(
        client, change_id, {"owner": plant["zhang"].employee_no, "result": "pass"}
    )
    assert response.status_code == 409 and response.get_json()["field"] == "owner"
    assert _count(session, LedgerEntry) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [({"owner": "NOBODY", "result": "pass"}, "owner"), ({"owner": "X", "result": "ok"}, "result")],
    ids=["not-affected", "bad-result"],
)
def test_a_bad_retest_report_is_400(client, session, plant, body, field):
    post_change(client, change_body(plant["engineer"], impact(owner=plant["zhang"])))
    response = post_retest(client, the_change(session).id, body)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_a_retest_for_an_unknown_change_is_404(client):
    assert post_retest(client, 42, {"owner": "E1", "result": "pass"}).status_code == 404


# -- GET /reports/changes ---------------------------------------------------------------------------


def test_the_report_gives_first_retest_hours_per_change_and_the_weekly_median(
    client, session, clock, drain, plant
):
    zhang = plant["zhang"]
    runs = (("ECO-1", datetime(2026, 11, 26, 10, 0, tzinfo=TZ), 41),  # week 48
            ("ECO-2", datetime(2026, 12, 1, 9, 0, tzinfo=TZ), 58),  # week 49
            ("ECO-3", datetime(2026, 12, 2, 9, 0, tzinfo=TZ), 20))  # fmt: skip
    for number, start, wait in runs:
        clock.set(start)
        body = change_body(plant["engineer"], impact(owner=zhang), external_id=number)
        change_id = post_change(client, body).get_json()["id"]
        _accept(client, session, drain, zhang)
        clock.advance(hours=wait)
        post_retest(client, change_id, {"owner": zhang.employee_no, "result": "pass"})
    response = client.get("/api/v1/reports/changes?from=2026-11-23&to=2026-12-06", headers=HEADERS)
    report = ChangeReportOut.model_validate(response.get_json())
    assert [c.first_retest_hours for c in report.changes] == [41.0, 58.0, 20.0]
    assert [(w.week, w.changes, w.reported, w.median_first_retest_hours) for w in report.weeks] == [
        ("2026-W48", 1, 1, 41.0), ("2026-W49", 2, 2, 39.0),
    ]  # fmt: skip
    assert report.median_first_retest_hours == 41.0 and report.baseline_hours == 72


def test_the_report_defaults_to_the_last_twelve_weeks(client, clock):
    data = client.get("/api/v1/reports/changes", headers=HEADERS).get_json()
    assert (data["from"], data["to"]) == ("2026-09-04", "2026-11-26")
    assert len(data["weeks"]) == 13 and data["changes"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2026-13-01", "from"), ("to=yesterday", "to"), ("from=2026-12-01&to=2026-11-01", "from"),
     ("from=2020-01-01&to=2026-01-01", "from")],
    ids=["bad-from", "bad-to", "inverted", "too-long"],
)  # fmt: skip
def test_bad_report_dates_are_400(client, query, field):
    response = client.get(f"/api/v1/reports/changes?{query}", headers=HEADERS)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_the_openapi_document_describes_the_change_routes(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/changes", "/api/v1/changes/{id}", "/api/v1/changes/{id}/retests",
            "/api/v1/reports/changes"} <= set(doc["paths"])  # fmt: skip
    schemas = doc["components"]["schemas"]
    assert {"ChangeIn", "ImpactIn", "ChangeOut", "RetestIn", "RetestOut", "ChangeReportOut"} <= set(
        schemas
    )
    assert "from" in schemas["ChangeReportOut"]["properties"]
    post = doc["paths"]["/api/v1/changes"]["post"]
    assert set(post["responses"]) >= {"200", "201", "400"}


def test_a_matrix_too_large_once_modules_are_expanded_is_400(client, session, plant):
    team = [make_employee(session) for _ in range(5)]
    add_module(session, "总装线", *team)
    body = change_body(plant["engineer"], *[impact(module="总装线", object=f"工位{i}")
                                            for i in range(4_001)])  # fmt: skip
    response = post_change(client, body)
    assert response.status_code == 400 and response.get_json()["field"] == "impacts"
    assert _count(session, Change) == 0
