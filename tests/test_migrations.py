"""Migrations keep what a running factory already has: chats, pending approvals, task chains."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text

from bot.app import bot_state, create_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.db import make_engine, upgrade
from bot.models import Ask, AskLog, AskState, Claim, ClaimState, Department, Task
from bot.outbox import current_card
from bot.signing import Signer
from cards import Button
from tests.conftest import SECRET, START, TZ
from tests.localchat import last, last_card, press, say

T0 = datetime(2026, 11, 26, 1, 0)  # naive UTC, as stored: 09:00 in the factory


def _insert(conn, table: str, **values) -> int:
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    return conn.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"), values
    ).scalar_one()


def _seed_at_0004(url: str) -> dict[str, int]:
    """A factory as revision 0004 left it: a pending claim with its card and a reminder task,
    an alert task half way up its chain, a reason being typed."""
    upgrade(url, "0004")
    engine = create_engine(url)
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        dept = _insert(conn, "departments", path="冲压车间", name="冲压车间",
                       wecom_chatid="wrOLD", feishu_chat_id="oc_old")  # fmt: skip
        boss = _insert(conn, "employees", employee_no="S1", name="王主管", role="supervisor",
                       department_id=dept, active=True, created_at=T0)  # fmt: skip
        worker = _insert(conn, "employees", employee_no="W1", name="张伟", role="worker",
                         department_id=dept, supervisor_id=boss, active=True, created_at=T0)  # fmt: skip
        rule = conn.execute(text("SELECT id FROM rules WHERE code = 'A02'")).scalar_one()
        claim = _insert(conn, "claims", employee_id=worker, rule_id=rule, state="pending",
                        approver_id=boss, created_at=T0)  # fmt: skip
        conn.execute(
            text("INSERT INTO cards (key, payload, version, updated_at) VALUES (:k, :p, 1, :t)"),
            {"k": f"claim:{claim}", "t": T0, "p": json.dumps({
                "type": "card", "title": f"待审核申领 #{claim}", "lines": [],
                "fields": [["规则", "A02 协助解决跨岗位协作障碍"]], "buttons": [], "image": None,
                "status": None, "key": f"claim:{claim}", "note": None, "extra": {}})},
        )  # fmt: skip
        overdue = conn.execute(
            text("SELECT id FROM escalation_policies WHERE name = 'overdue'")
        ).scalar_one()
        approval = conn.execute(
            text("SELECT id FROM escalation_policies WHERE name = 'approval'")
        ).scalar_one()
        _insert(conn, "tasks", kind="approval", title=f"审核申领 #{claim}", owner_id=boss,
                source="claim", external_id=str(claim), state="open", severity="normal",
                policy_id=approval, step=1, next_step_at=datetime(2026, 11, 27, 5, 0),
                last_update_at=T0, created_at=T0)  # fmt: skip
        task = _insert(conn, "tasks", kind="alert", title="首检报告未上传", owner_id=worker,
                       due_at=T0, source="mes", external_id="WO-1", state="open",
                       severity="normal", policy_id=overdue, step=1,
                       next_step_at=datetime(2026, 11, 27, 5, 0), last_update_at=T0,
                       created_at=T0)  # fmt: skip
        _insert(conn, "escalation_log", task_id=task, step=0, action="owner+supervisor",
                recipient_id=worker, card_key=f"task:{task}:0:{worker}:1", result="triggered",
                created_at=datetime(2026, 11, 26, 5, 0))  # fmt: skip
        _insert(conn, "conversation_states", employee_id=boss, key="awaiting_reason",
                value=f'{{"claim_id": {claim}}}', expires_at=datetime(2026, 11, 26, 3, 0))  # fmt: skip
        ids.update(dept=dept, boss=boss, worker=worker, claim=claim, task=task)
    engine.dispose()
    return ids


@pytest.fixture
def old_url(request, tmp_path):
    """An empty database URL of each kind, not yet migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    url = request.getfixturevalue("pg_database")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def _app(url, tmp_path):
    env = {"DATABASE_URL": url, "BOT_SECRET_KEY": SECRET, "BOT_ENV": "test",
           "BOT_MEDIA_DIR": str(tmp_path / "media"), "BOT_VAR_DIR": str(tmp_path / "var")}  # fmt: skip
    return create_app(
        {"CONFIG": load_config(env), "CLOCK": FixedClock(START), "ENGINE": make_engine(url)}
    )


@pytest.mark.parametrize("old_url", ["sqlite", "postgresql"], indirect=True)
def test_upgrade_keeps_chats_pending_approvals_and_task_chains(old_url, tmp_path):
    upgrade(old_url, "0004")
    ids = _seed_at_0004(old_url)
    upgrade(old_url)
    app = _app(old_url, tmp_path)
    state = bot_state(app)
    client = app.test_client()
    with state.session_factory() as s:
        dept = s.get(Department, ids["dept"])
        assert dept.chat_for("wecom") == "wrOLD" and dept.chat_for("feishu") == "oc_old"
        assert dept.chat_for("dingtalk") is None
        claim_ask = s.query(Ask).filter_by(subject=f"claim:{ids['claim']}").one()
        assert claim_ask.state == AskState.OPEN and claim_ask.owner_id == ids["boss"]
        assert claim_ask.step == 1 and claim_ask.next_step_at == datetime(
            2026, 11, 27, 13, 0, tzinfo=TZ
        )
        task_ask = s.query(Ask).filter_by(subject=f"task:{ids['task']}").one()
        assert (task_ask.kind, task_ask.policy, task_ask.step) == ("task_alert", "overdue", 1)
        assert s.query(AskLog).filter_by(ask_id=task_ask.id, result="triggered").count() == 1
        assert s.query(Task).filter_by(kind="approval").count() == 0
        boss, worker = (
            s.get(type(claim_ask.owner), ids["boss"]),
            s.get(type(claim_ask.owner), ids["worker"]),
        )
    # A button signed before the upgrade still decides the claim, and the old card is updated.
    old_button = Button("通过", Signer(SECRET).sign("approve", ids["claim"], ids["boss"], START))
    press(client, boss, old_button)
    state.worker.drain()
    with state.session_factory() as s:
        assert s.get(Claim, ids["claim"]).state == ClaimState.APPROVED
        assert last(s, worker).text.startswith("🎉 申领通过")
        old_card = current_card(s, f"claim:{ids['claim']}")
        assert old_card.status.startswith("已通过 · 王主管")
    say(client, worker, "任务")
    state.worker.drain()
    with state.session_factory() as s:
        assert "首检报告未上传" in last_card(s, worker, "我的待办").lines[0]
    state.engine.dispose()


@pytest.mark.parametrize("old_url", ["sqlite", "postgresql"], indirect=True)
def test_upgrade_to_the_economy_counts_past_approvals_and_adds_the_suggestion_chain(old_url):
    """Approved claims before revision 0013 become stage-1 approvals, so the 30-day review
    signals see them; pending ones do not."""
    upgrade(old_url, "0007")
    engine = create_engine(old_url)
    with engine.begin() as conn:
        boss = _insert(conn, "employees", employee_no="S1", name="王主管", role="supervisor",
                       active=True, created_at=T0)  # fmt: skip
        worker = _insert(conn, "employees", employee_no="W1", name="张伟", role="worker",
                         supervisor_id=boss, active=True, created_at=T0)  # fmt: skip
        rule = conn.execute(text("SELECT id FROM rules WHERE code = 'A03'")).scalar_one()
        done = _insert(conn, "claims", employee_id=worker, rule_id=rule, state="approved",
                       approver_id=boss, decided_by_id=boss, decided_at=T0, points_credited=12,
                       created_at=T0)  # fmt: skip
        _insert(conn, "claims", employee_id=worker, rule_id=rule, state="pending",
                approver_id=boss, created_at=T0)  # fmt: skip
    upgrade(old_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT claim_id, stage, approver_id, claimant_id, points FROM claim_approvals")
        ).all()
        steps = conn.execute(
            text("SELECT steps FROM escalation_policies WHERE name = 'suggestion'")
        ).scalar_one()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(done, 1, boss, worker, 12)]
    steps = json.loads(steps) if isinstance(steps, str) else steps
    assert [s["wait_minutes"] for s in steps] == [2880, 1440]
