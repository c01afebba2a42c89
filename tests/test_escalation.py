"""Tasks and their escalation chains (三级预警): steps over time, acknowledgement, quiet hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db import session_scope
from bot.errors import NotAllowed
from bot.models import EscalationLog, Outbox, Role, Task, TaskState
from bot.services.escalation import (
    ACK_LABEL,
    ACKED_REPLY,
    DONE_LABEL,
    DONE_REPLY,
    NOT_INVOLVED,
    acknowledge_task,
    create_task,
    escalation_tick,
)
from bot.services.workcal import set_setting, set_workday
from cards import Text
from handlers.router import NOT_YOUR_BUTTON
from handlers.tasks import NO_TASKS, TASKS_TITLE
from tests.conftest import TZ
from tests.factories import make_employee, make_team
from tests.localchat import button, inbox, last, last_card, press, say


def _tick(state):
    with session_scope(state.session_factory) as s:
        return escalation_tick(s, state.clock.now(), signer=state.signer, tz=state.config.tz)


def _task(state, owner, **kw):
    with session_scope(state.session_factory) as s:
        task = create_task(
            s,
            owner=s.get(type(owner), owner.id),
            title=kw.pop("title", "首检报告未上传"),
            now=state.clock.now(),
            **kw,
        )
        return task.id


def _alerts(session, who):
    return [m for m in inbox(session, who) if getattr(m, "title", "").startswith(("⏰", "🚨"))]


def _chain(session):
    """A worker, their supervisor and the supervisor's manager."""
    boss, (worker,) = make_team(session, workers=1)
    manager = make_employee(session, name="陈经理", role=Role.SUPERVISOR)
    boss.supervisor = manager
    session.commit()
    return manager, boss, worker


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
    assert [b.label for b in card.buttons] == [ACK_LABEL, DONE_LABEL]
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
    assert task.next_step_at is None
    assert last(session, worker) == Text(ACKED_REPLY.format(title="首检报告未上传"))
    for who in (worker, boss):
        card = last_card(session, who, "⏰")
        assert "已确认 · " + worker.name in card.note
        assert [b.label for b in card.buttons] == [DONE_LABEL]
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
    task_id = _task(state, worker, due_at=clock.now())
    with session_scope(state.session_factory) as s, pytest.raises(NotAllowed) as refused:
        acknowledge_task(s, task_id, s.get(type(stranger), stranger.id), now=clock.now(), tz=TZ)
    assert refused.value.user_message == NOT_INVOLVED


def test_quiet_hours_defer_normal_alerts_to_the_morning(state, session, clock, drain):
    _, _, worker = _chain(session)
    _task(state, worker, due_at=datetime(2026, 11, 26, 18, 0, tzinfo=TZ))
    clock.set(datetime(2026, 11, 26, 22, 0, tzinfo=TZ))
    report = _tick(state)
    assert report.deferred == 1 and report.notified == 0
    with session_scope(state.session_factory) as s:
        task = s.scalars(select(Task)).one()
        assert task.next_step_at == datetime(2026, 11, 27, 7, 30, tzinfo=TZ)
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
    _task(state, worker, due_at=datetime(2026, 11, 27, 20, 0, tzinfo=TZ))  # Friday evening
    clock.set(datetime(2026, 11, 28, 0, 0, tzinfo=TZ))
    assert _tick(state).deferred == 1
    with session_scope(state.session_factory) as s:
        task = s.scalars(select(Task)).one()
        assert task.next_step_at == datetime(2026, 12, 1, 8, 0, tzinfo=TZ)


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
    assert (
        session.scalar(
            select(func.count(EscalationLog.id)).where(EscalationLog.result == "triggered")
        )
        == 2
    )


def test_tick_reads_only_due_tasks(state, session, clock):
    _, _, worker = _chain(session)
    for i in range(5):
        _task(state, worker, due_at=clock.now() + timedelta(hours=i), title=f"任务{i}")
    clock.advance(hours=5)
    assert _tick(state).due == 2


def test_tasks_command_lists_open_tasks_with_due_times(client, state, session, clock, drain):
    _, _, worker = _chain(session)
    _task(state, worker, due_at=datetime(2026, 11, 26, 16, 0, tzinfo=TZ), title="更换 3 号模具")
    say(client, worker, "任务")
    drain()
    card = last_card(session, worker, TASKS_TITLE)
    assert "更换 3 号模具（截止 11-26 16:00）" in card.lines[0]
    press(client, worker, button(card, DONE_LABEL))
    drain()
    assert last(session, worker) == Text(DONE_REPLY.format(title="更换 3 号模具"))


def test_tasks_command_with_nothing_open(client, session, drain):
    _, _, worker = _chain(session)
    say(client, worker, "tasks")
    drain()
    assert last(session, worker) == Text(NO_TASKS)
