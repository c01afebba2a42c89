"""POST /api/v1/tasks: bearer token, validation, idempotency per (source, external_id)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.models import Task
from tests.factories import make_team

TOKEN = "api-token-0123456789abcdef"


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


def _post(client, body, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.post("/api/v1/tasks", json=body, headers=headers)


def _body(employee, **kw):
    return {
        "source": "mes",
        "external_id": "WO-1001",
        "title": "冲压线 3 号模具点检逾期",
        "owner": employee.employee_no,
        "due_at": "2026-11-26T14:00:00+08:00",
        **kw,
    }


def test_create_task_returns_201_with_its_chain(client, session):
    _, (worker,) = make_team(session, workers=1)
    response = _post(client, _body(worker, severity="urgent"))
    assert response.status_code == 201
    data = response.get_json()
    assert data["owner"] == worker.employee_no and data["state"] == "open"
    assert data["policy"] == "overdue" and data["severity"] == "urgent"
    assert data["next_step_at"] == "2026-11-26T10:00:00+00:00"  # 14:00+08 + 4 h


def test_repeat_post_returns_the_existing_task_with_200(client, session):
    _, (worker,) = make_team(session, workers=1)
    first = _post(client, _body(worker))
    second = _post(client, _body(worker, title="changed"))
    assert second.status_code == 200
    assert second.get_json()["id"] == first.get_json()["id"]
    assert session.scalar(select(func.count(Task.id))) == 1


def test_same_external_id_from_another_source_is_another_task(client, session):
    _, (worker,) = make_team(session, workers=1)
    assert _post(client, _body(worker)).status_code == 201
    assert _post(client, _body(worker, source="erp")).status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"owner": "NOBODY"}, "owner"),
        ({"due_at": "tomorrow"}, "due_at"),
        ({"due_at": "2026-11-26T14:00:00"}, "due_at"),
        ({"severity": "high"}, "severity"),
        ({"policy": "nope"}, "policy"),
        ({"external_id": 5}, "external_id"),
        ({"source": "bad source"}, "source"),
    ],
    ids=["empty-title", "unknown-owner", "bad-due", "naive-due", "severity", "policy", "type",
         "source"],
)  # fmt: skip
def test_invalid_field_gives_400_naming_it(client, session, change, field):
    _, (worker,) = make_team(session, workers=1)
    response = _post(client, _body(worker, **change))
    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert session.scalar(select(func.count(Task.id))) == 0


def test_non_json_body_gives_400(client):
    response = client.post(
        "/api/v1/tasks", data="not json", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 400 and response.get_json()["field"] == "body"


def test_missing_token_gives_401(client, session):
    _, (worker,) = make_team(session, workers=1)
    response = _post(client, _body(worker), token=None)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_token_gives_403(client, session):
    _, (worker,) = make_team(session, workers=1)
    assert _post(client, _body(worker), token="wrong-token-0123456789").status_code == 403
    assert session.scalar(select(func.count(Task.id))) == 0


def test_api_is_off_without_a_token(app, session):
    # The default app fixture sets BOT_API_TOKEN here; build one without it.
    from bot.app import create_app
    from bot.config import load_config
    from tests.conftest import SECRET

    config = load_config({"DATABASE_URL": "sqlite://", "BOT_SECRET_KEY": SECRET, "BOT_ENV": "test",
                          "BOT_LEDGER_KEY": "l" * 32})  # fmt: skip
    bare = create_app({"CONFIG": config})
    assert bare.test_client().post("/api/v1/tasks", json={}).status_code == 404
