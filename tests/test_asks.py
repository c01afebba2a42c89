"""The asks engine (design §12): task alerts and their escalation chains (三级预警), input
collected after a choice, refusals, the audit entry, 任务, and resumption after a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot import asks
from bot.db import session_scope
from bot.errors import NotAllowed
from bot.models import Ask, AskLog, AskState, AuditLog, Evidence, Outbox, Role, Task, TaskState
from bot.notices import asks as texts
from bot.notices.suggestions import BUTTON_LABEL as SUGGEST_LABEL
from bot.notices.tasks import ACK_LABEL, ACKED_REPLY, DONE_LABEL, DONE_REPLY, NOT_INVOLVED
from bot.services.tasks import create_task, task_ask
from bot.services.workcal import set_setting, set_workday
from bot.signing import NOT_YOUR_BUTTON
from cards import Card, Text
from tests.conftest import ROOT, TZ
from tests.factories import make_employee, make_team, photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo


def _tick(state):
    with session_scope(state.session_factory) as s:
        return asks.tick(s, state.clock.now(), signer=state.signer, tz=state.config.tz)


def _task(state, owner, **kw):
    with session_scope(state.session_factory) as s:
        task = create_task(
            s,
            owner=s.get(type(owner), owner.id),
            title=kw.pop("title", "首检报告未上传"),
            now=state.clock.now(),
            tz=TZ,
            **kw,
        )
        return task.id


def _ask_of(session, task_id):
    session.commit()
    return task_ask(session, session.get(Task, task_id))


def _alerts(session, who):
    return [m for m in inbox(session, who) if getattr(m, "title", "").startswith(("⏰", "🚨"))]


def _chain(session):
    """A worker, their supervisor and the supervisor's manager."""
    boss, (worker,) = make_team(session, workers=1)
    manager = make_employee(session, name="陈经理", role=Role.SUPERVISOR)
    boss.supervisor = manager
    session.commit()
    return manager, boss, worker


# -- task alerts: the chain --------------------------------------------------------------------


def test_overdue_task_notifies_owner_and_supervisor_after_four_hours(state, session, clock, drain):
    manager, boss, worker = _chain(session)
    _task(state, worker, due_at=clock.now())
    clock.advance(hours=3, minutes=59)
    assert _tick(state).notified == 0
    clock.advance(minutes=1)
    assert _tick(state).notified == 2
    drain()
    card = last_card(session, worker, "⏰")
    assert "首检报告未上传" in card.title
    assert [b.label for b in card.buttons] == [ACK_LABEL, DONE_LABEL, SUGGEST_LABEL]
    assert len(_alerts(session, boss)) == 1 and _alerts(session, manager) == []


def test_no_response_in_24_hours_escalates_to_the_next_level(state, session, clock, drain):
    manager, boss, worker = _chain(session)
    _task(state, worker, due_at=clock.now())
    clock.advance(hours=4)
    _tick(state)
    clock.advance(hours=23)
    assert _tick(state).notified == 0
    clock.advance(hours=1)  # Friday 14:00
    assert _tick(state).notified == 1
    drain()
    assert len(_alerts(session, manager)) == 1
    assert len(_alerts(session, worker)) == 1 and len(_alerts(session, boss)) == 1
    # The chain is over: nothing more, however long we wait.
    clock.advance(days=3)
    assert _tick(state).due == 0


def test_acknowledge_stops_the_chain_and_updates_every_copy(client, state, session, clock, drain):
    manager, boss, worker = _chain(session)
    task_id = _task(state, worker, due_at=clock.now())
    clock.advance(hours=4)
    _tick(state)
    drain()
    press(client, worker, button(last_card(session, worker, "⏰"), ACK_LABEL))
    drain()
    task = session.get(Task, task_id)
    assert task.state == TaskState.ACKNOWLEDGED and task.acknowledged_by_id == worker.id
    assert _ask_of(session, task_id).next_step_at is None
    assert last(session, worker) == Text(ACKED_REPLY.format(title="首检报告未上传"))
    for who in (worker, boss):
        card = last_card(session, who, "⏰")
        assert "已确认 · " + worker.name in card.note
        assert [b.label for b in card.buttons] == [DONE_LABEL, SUGGEST_LABEL]
    clock.advance(days=2)
    assert _tick(state).due == 0
    drain()
    assert _alerts(session, manager) == []


def test_done_closes_the_task_and_every_copy_shows_it(client, state, session, clock, drain):
    _, boss, worker = _chain(session)
    task_id = _task(state, worker, due_at=clock.now())
    clock.advance(hours=4)
    _tick(state)
    drain()
    press(client, boss, button(last_card(session, boss, "⏰"), DONE_LABEL))
    drain()
    assert session.get(Task, task_id).state == TaskState.DONE
    assert last(session, boss) == Text(DONE_REPLY.format(title="首检报告未上传"))
    for who in (worker, boss):
        card = last_card(session, who, "⏰")
        assert card.buttons == () and card.status.startswith(f"已完成 · {boss.name} · 14:00")


def test_a_second_answer_is_refused_politely(client, state, session, clock, drain):
    _, boss, worker = _chain(session)
    _task(state, worker, due_at=clock.now())
    clock.advance(hours=4)
    _tick(state)
    drain()
    done = button(last_card(session, worker, "⏰"), DONE_LABEL)
    press(client, boss, button(last_card(session, boss, "⏰"), DONE_LABEL))
    press(client, worker, done)
    drain()
    assert last(session, worker).text.startswith(
        f"这个任务已由 {boss.name} 于 14:00 处理（已完成）"
    )


def test_someone_else_cannot_press_the_alert_buttons(client, state, session, clock, drain):
    _, _, worker = _chain(session)
    stranger = make_employee(session)
    task_id = _task(state, worker, due_at=clock.now())
    clock.advance(hours=4)
    _tick(state)
    drain()
    press(client, stranger, button(last_card(session, worker, "⏰"), ACK_LABEL))
    drain()
    assert session.get(Task, task_id).state == TaskState.OPEN
    assert last(session, stranger) == Text(NOT_YOUR_BUTTON)


def test_only_people_told_about_a_task_may_act_on_it(state, session, clock):
    _, _, worker = _chain(session)
    stranger = make_employee(session)
    ask_id = _ask_of(session, _task(state, worker, due_at=clock.now())).id
    with session_scope(state.session_factory) as s, pytest.raises(NotAllowed) as refused:
        asks.press(s, ask_id, s.get(type(stranger), stranger.id), "ack", now=clock.now(), tz=TZ,
                   signer=state.signer)  # fmt: skip
    assert refused.value.user_message == NOT_INVOLVED


def test_quiet_hours_defer_normal_alerts_to_the_morning(state, session, clock, drain):
    _, _, worker = _chain(session)
    task_id = _task(state, worker, due_at=datetime(2026, 11, 26, 18, 0, tzinfo=TZ))
    clock.set(datetime(2026, 11, 26, 22, 0, tzinfo=TZ))
    report = _tick(state)
    assert report.deferred == 1 and report.notified == 0
    assert _ask_of(session, task_id).next_step_at == datetime(2026, 11, 27, 7, 30, tzinfo=TZ)
    clock.set(datetime(2026, 11, 27, 7, 30, tzinfo=TZ))
    assert _tick(state).notified == 2


def test_urgent_alerts_ignore_quiet_hours(state, session, clock):
    _, _, worker = _chain(session)
    _task(state, worker, due_at=datetime(2026, 11, 26, 18, 0, tzinfo=TZ), severity="urgent")
    clock.set(datetime(2026, 11, 26, 22, 0, tzinfo=TZ))
    assert _tick(state).notified == 2


def test_weekends_and_holidays_defer_to_the_next_workday(state, session, clock):
    _, _, worker = _chain(session)
    with session_scope(state.session_factory) as s:
        set_workday(s, datetime(2026, 11, 30).date(), False, "调休")  # Monday off
        set_setting(s, "quiet_hours", {"start": "22:00", "end": "08:00"})
    task_id = _task(state, worker, due_at=datetime(2026, 11, 27, 20, 0, tzinfo=TZ))  # Friday
    clock.set(datetime(2026, 11, 28, 0, 0, tzinfo=TZ))
    assert _tick(state).deferred == 1
    assert _ask_of(session, task_id).next_step_at == datetime(2026, 12, 1, 8, 0, tzinfo=TZ)


def test_later_steps_count_from_the_anchor_not_from_a_deferral(state, session, clock):
    """Durations are wall-clock from the anchor (design §12): a step deferred overnight does
    not push the next one back."""
    _, _, worker = _chain(session)
    task_id = _task(state, worker, due_at=datetime(2026, 11, 26, 18, 0, tzinfo=TZ))
    clock.set(datetime(2026, 11, 27, 7, 30, tzinfo=TZ))  # the 22:00 step, deferred to 07:30
    _tick(state)
    ask = _ask_of(session, task_id)
    assert ask.next_step_at == datetime(2026, 11, 27, 22, 0, tzinfo=TZ)  # 18:00 + 4 h + 24 h


def test_unclaimed_task_gets_one_reminder_after_two_hours(state, session, clock):
    _, _, worker = _chain(session)
    _task(state, worker)  # no due time → the `unclaimed` policy
    clock.advance(hours=2)
    assert _tick(state).notified == 1
    clock.advance(days=1)
    assert _tick(state).due == 0


def test_tick_twice_at_the_same_instant_sends_once(state, session, clock):
    _, _, worker = _chain(session)
    _task(state, worker, due_at=clock.now())
    clock.advance(hours=4)
    _tick(state)
    _tick(state)
    assert session.scalar(select(func.count(Outbox.id))) == 2
    triggered = select(func.count(AskLog.id)).where(AskLog.result == "triggered")
    assert session.scalar(triggered) == 2


def test_tick_reads_only_due_asks(state, session, clock):
    _, _, worker = _chain(session)
    for i in range(5):
        _task(state, worker, due_at=clock.now() + timedelta(hours=i), title=f"任务{i}")
    clock.advance(hours=5)
    assert _tick(state).due == 2


def test_the_chain_is_a_snapshot_taken_when_the_ask_opens(state, session, clock):
    from bot.models import EscalationPolicy

    _, _, worker = _chain(session)
    _task(state, worker)
    policy = session.scalars(select(EscalationPolicy).where(EscalationPolicy.name == "unclaimed"))
    policy.one().steps = [{"wait_minutes": 600, "notify": "owner"}]
    session.commit()
    clock.advance(hours=2)
    assert _tick(state).notified == 1


# -- 任务 ----------------------------------------------------------------------------------------


def test_tasks_command_lists_open_asks_with_due_times(client, state, session, clock, drain):
    _, _, worker = _chain(session)
    _task(state, worker, due_at=datetime(2026, 11, 26, 16, 0, tzinfo=TZ), title="更换 3 号模具")
    say(client, worker, "任务")
    drain()
    summary = last_card(session, worker, "我的待办")
    assert "更换 3 号模具（截止 11-26 16:00）" in summary.lines[0]
    press(client, worker, button(last_card(session, worker, "更换 3 号模具"), DONE_LABEL))
    drain()
    assert last(session, worker) == Text(DONE_REPLY.format(title="更换 3 号模具"))


def test_tasks_lists_every_kind_of_ask_oldest_first(client, state, session, clock, drain):
    boss, (worker, _) = make_team(session)
    _task(state, boss, title="点检模具")
    clock.advance(minutes=5)
    say(client, worker, "申领 A02 帮二班调试送料机")
    drain()
    say(client, boss, "任务")
    drain()
    summary = last_card(session, boss, "我的待办")
    assert summary.title == texts.ASKS_TITLE.format(total=2)
    assert summary.lines[0].startswith("· 点检模具") and "审核申领" in summary.lines[1]
    approval = last_card(session, boss, "待审核申领")
    assert [b.label for b in approval.buttons] == ["通过", "驳回"]


def test_tasks_command_with_nothing_open(client, session, drain):
    _, _, worker = _chain(session)
    say(client, worker, "tasks")
    drain()
    assert last(session, worker) == Text(texts.NO_ASKS)


# -- approvals on the engine -------------------------------------------------------------------


def _claim(client, session, drain, worker):
    say(client, worker, "申领 A02 帮二班调试送料机")
    drain()


def test_approval_reminder_carries_the_decision_buttons(client, state, session, clock, drain):
    manager, boss, worker = _chain(session)
    _claim(client, session, drain, worker)
    clock.advance(hours=4)
    assert _tick(state).notified == 1
    drain()
    reminder = last_card(session, boss, "⏰ 审批提醒：审核申领")
    press(client, boss, button(reminder, "通过"))
    drain()
    assert last_card(session, boss, "待审核申领").status.startswith("已通过 · 王主管")
    assert last_card(session, boss, "⏰ 审批提醒").status.startswith("已通过 · 王主管")


def test_escalated_supervisor_acknowledges_and_the_reminders_stop(
    client, state, session, clock, drain
):
    manager, boss, worker = _chain(session)
    _claim(client, session, drain, worker)
    clock.advance(hours=28)
    _tick(state)
    clock.advance(hours=1)
    _tick(state)
    drain()
    copy = last_card(session, manager, "⏰ 审批提醒")
    assert [b.label for b in copy.buttons] == [texts.ESCALATION_ACK_LABEL]
    assert copy.note == texts.CC_NOTE.format(owner=boss.name)
    press(client, manager, button(copy, texts.ESCALATION_ACK_LABEL))
    drain()
    assert last(session, manager).text.startswith("👌 已知悉")
    assert last_card(session, manager, "⏰ 审批提醒").buttons == ()
    # The approver can still decide; nothing else is sent meanwhile.
    assert [b.label for b in last_card(session, boss, "待审核申领").buttons] == ["通过", "驳回"]
    clock.advance(days=5)
    assert _tick(state).due == 0


def test_every_answer_is_in_the_audit_log(client, state, session, clock, drain):
    boss, (worker, _) = make_team(session)
    _claim(client, session, drain, worker)
    press(client, boss, button(last_card(session, boss, "待审核申领"), "驳回"))
    drain()
    say(client, boss, "与规则不符")
    drain()
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "ask.answer")).one()
    assert entry.actor_id == boss.id
    assert entry.detail["choice"] == "reject" and entry.detail["reason"] == "与规则不符"


def test_a_closed_ask_refuses_a_late_tap_politely(client, state, session, clock, drain):
    boss, (worker, _) = make_team(session)
    _claim(client, session, drain, worker)
    approve = button(last_card(session, boss, "待审核申领"), "通过")
    with session_scope(state.session_factory) as s:
        ask = s.scalars(select(Ask)).one()
        asks.close_ask(s, ask, outcome="已撤回", now=clock.now())
    press(client, boss, approve)
    drain()
    assert last(session, boss) == Text(texts.ALREADY_CLOSED.format(outcome="已撤回"))
    assert last_card(session, boss, "待审核申领").status == "已撤回"


# -- input of any kind, through a kind registered by the test ----------------------------------

ANSWERS: list[asks.Answer] = []


def _record(answer: asks.Answer) -> list[Text]:
    ANSWERS.append(answer)
    return [Text(f"收到 {answer.choice.key}")]


asks.register(asks.AskKind("test_inputs", _record))


def _open_test_ask(state, owner, *choices, **kw):
    with session_scope(state.session_factory) as s:
        ask = asks.open_ask(
            s, kind="test_inputs", owner=s.get(type(owner), owner.id), title="点检结果",
            card=Card(title="点检结果", lines=("请反馈",)), choices=choices,
            now=state.clock.now(), signer=state.signer, **kw,
        )  # fmt: skip
        return ask.id


@pytest.fixture(autouse=True)
def _clear_answers():
    ANSWERS.clear()


def test_a_choice_needing_a_photo_takes_the_next_photo(client, state, session, drain):
    _, (worker,) = make_team(session, workers=1)
    _open_test_ask(state, worker, asks.Choice("report", "提交报告", needs=asks.Needs.PHOTO))
    drain()
    press(client, worker, button(last_card(session, worker, "点检结果"), "提交报告"))
    drain()
    assert last_card(session, worker, "提交报告").lines == (texts.PROMPT_PHOTO,)
    say(client, worker, "已经做完了")
    drain()
    assert last(session, worker) == Text(texts.PROMPT_PHOTO) and ANSWERS == []
    send_photo(client, worker, photo_bytes(41))
    drain()
    [answer] = ANSWERS
    assert session.get(Evidence, answer.evidence_id).employee_id == worker.id
    assert last(session, worker) == Text("收到 report")
    assert last_card(session, worker, "点检结果").status.startswith("提交报告 · ")


def test_a_choice_needing_a_number_refuses_other_text(client, state, session, drain):
    _, (worker,) = make_team(session, workers=1)
    _open_test_ask(state, worker, asks.Choice("hours", "填写工时", needs=asks.Needs.NUMBER))
    drain()
    press(client, worker, button(last_card(session, worker, "点检结果"), "填写工时"))
    say(client, worker, "三个")
    say(client, worker, "3")
    drain()
    assert [m.text for m in inbox(session, worker) if isinstance(m, Text)] == [
        texts.NEED_NUMBER,
        "收到 hours",
    ]
    assert ANSWERS[0].number == 3


def test_commands_still_work_while_input_is_awaited(client, state, session, drain):
    _, (worker,) = make_team(session, workers=1)
    _open_test_ask(state, worker, asks.Choice("note", "补充说明", needs=asks.Needs.TEXT))
    drain()
    press(client, worker, button(last_card(session, worker, "点检结果"), "补充说明"))
    say(client, worker, "积分")
    say(client, worker, "冲头已更换")
    drain()
    assert ANSWERS[0].reason == "冲头已更换"


def test_cancel_leaves_the_ask_open(client, state, session, drain):
    _, (worker,) = make_team(session, workers=1)
    ask_id = _open_test_ask(state, worker, asks.Choice("note", "补充说明", needs=asks.Needs.TEXT))
    drain()
    press(client, worker, button(last_card(session, worker, "点检结果"), "补充说明"))
    drain()
    press(client, worker, button(last_card(session, worker, "补充说明"), texts.CANCEL_LABEL))
    say(client, worker, "随便说一句")
    drain()
    assert ANSWERS == [] and session.get(Ask, ask_id).state == AskState.OPEN
    assert last_card(session, worker, "补充说明").status == texts.PROMPT_CANCELLED


def test_a_delegate_recorded_by_the_engine_may_answer(client, state, session, drain):
    boss, (worker, other) = make_team(session)
    _open_test_ask(state, boss, asks.Choice("ok", "确认"), delegates=[other])
    drain()
    press(client, other, button(last_card(session, other, "点检结果"), "确认"))
    drain()
    assert ANSWERS[0].actor.id == other.id
    assert last_card(session, boss, "点检结果").status.startswith(f"确认 · {other.name}")


# -- resumption after a restart ----------------------------------------------------------------


def _run_tick_process(db_url, tmp_path, now: datetime) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "BOT_SECRET_KEY": "test-secret-key-0123456789abcdef",
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_MEDIA_DIR": str(tmp_path / "media"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "jobs", "run", "escalation_tick", "--now", now.isoformat()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def test_a_waiting_step_fires_once_after_a_restart(state, session, clock, db_url, tmp_path):
    """The chain lives in the database: one process stops while a step waits, others started
    later run it exactly once."""
    _, _, worker = _chain(session)
    task_id = _task(state, worker, due_at=clock.now())
    before = _run_tick_process(db_url, tmp_path, clock.now() + timedelta(hours=3))
    assert "notified=0" in before
    due = clock.now() + timedelta(hours=4, minutes=1)
    assert "notified=2" in _run_tick_process(db_url, tmp_path, due)
    assert "notified=0" in _run_tick_process(db_url, tmp_path, due + timedelta(minutes=1))
    ask = _ask_of(session, task_id)
    assert ask.step == 1
    sent = select(func.count(AskLog.id)).where(
        AskLog.ask_id == ask.id, AskLog.result == "triggered"
    )
    assert session.scalar(sent) == 2
