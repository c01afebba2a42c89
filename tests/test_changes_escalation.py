"""Unanswered change asks escalate by the `change` policy (design §13): a reminder after 2 hours,
the owner's supervisor copied after 24, on the workday calendar; retest tasks count from their
due time. Also the demo change `make run` shows in the local chat."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from bot import asks
from bot.db import session_scope
from bot.demo import seed_demo, seed_demo_change
from bot.models import Ask, Employee, EscalationPolicy
from bot.notices import asks as ask_texts
from bot.notices import changes as notices
from bot.services.ledger import balance
from tests.change_support import (
    IMPACT_TITLE,
    RETEST_TITLE,
    SUMMARY_TITLE,
    TOKEN,
    change_body,
    impact,
    make_plant,
    post_change,
)
from tests.conftest import TZ
from tests.localchat import button, inbox, last, last_card, press, say

REMINDER = f"⏰ 变更提醒：{IMPACT_TITLE}"


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


def _tick(state):
    with session_scope(state.session_factory) as s:
        return asks.tick(s, state.clock.now(), signer=state.signer, tz=TZ)


def _reminders(session, who, prefix="⏰"):
    return [m for m in inbox(session, who) if getattr(m, "title", "").startswith(prefix)]


def test_the_migration_seeds_the_change_policy(session):
    policy = session.scalars(select(EscalationPolicy).where(EscalationPolicy.name == "change"))
    assert policy.one().steps == [
        {"wait_minutes": 120, "notify": "owner"},
        {"wait_minutes": 1320, "notify": "owner+supervisor"},
    ]


def test_an_unanswered_owner_is_reminded_after_two_hours(client, state, session, clock, drain):
    plant = make_plant(session)
    post_change(client, change_body(plant["engineer"], impact(owner=plant["zhang"])))
    clock.advance(hours=1, minutes=59)
    assert _tick(state).notified == 0
    clock.advance(minutes=1)
    assert _tick(state).notified == 1
    drain()
    [reminder] = _reminders(session, plant["zhang"])
    assert reminder.title == REMINDER
    assert [b.label for b in reminder.buttons] == ["接受", "需协商", "拒绝"]
    assert _reminders(session, plant["boss"]) == []


def test_the_supervisor_is_copied_after_24_hours(client, state, session, clock, drain):
    plant = make_plant(session)
    post_change(client, change_body(plant["engineer"], impact(owner=plant["zhang"])))
    clock.advance(hours=2)
    _tick(state)
    clock.advance(hours=21, minutes=59)
    assert _tick(state).notified == 0
    clock.advance(minutes=1)  # Friday 10:00
    assert _tick(state).notified == 2
    drain()
    [copy] = _reminders(session, plant["boss"])
    assert copy.note == ask_texts.CC_NOTE.format(owner=plant["zhang"].name)
    assert [b.label for b in copy.buttons] == [ask_texts.ESCALATION_ACK_LABEL]
    assert len(_reminders(session, plant["zhang"])) == 2


def test_an_answer_stops_the_reminders(client, state, session, clock, drain):
    plant = make_plant(session)
    post_change(client, change_body(plant["engineer"], impact(owner=plant["zhang"])))
    drain()
    press(client, plant["zhang"], button(last_card(session, plant["zhang"], IMPACT_TITLE), "接受"))
    drain()
    clock.advance(hours=30)
    _tick(state)
    drain()
    assert _reminders(session, plant["zhang"], REMINDER) == []


def test_a_reminder_due_at_night_before_a_weekend_waits_for_monday(client, state, session, clock):
    plant = make_plant(session)
    clock.set(datetime(2026, 11, 27, 20, 0, tzinfo=TZ))  # Friday evening
    post_change(client, change_body(plant["engineer"], impact(owner=plant["zhang"])))
    clock.set(datetime(2026, 11, 27, 22, 0, tzinfo=TZ))
    report = _tick(state)
    assert (report.notified, report.deferred) == (0, 1)
    ask = session.scalars(select(Ask).where(Ask.kind == "change_impact")).one()
    assert ask.next_step_at == datetime(2026, 11, 30, 7, 30, tzinfo=TZ)


def test_a_retest_task_is_reminded_from_its_due_time_and_copies_may_report_it(
    client, state, session, clock, drain
):
    plant = make_plant(session)
    zhang, boss = plant["zhang"], plant["boss"]
    post_change(client, change_body(plant["engineer"], impact(owner=zhang)))
    drain()
    press(client, zhang, button(last_card(session, zhang, IMPACT_TITLE), "接受"))
    drain()
    # Due 12-04 00:00; +2 h falls in quiet hours, so 07:30 that Friday.
    clock.set(datetime(2026, 12, 4, 7, 29, tzinfo=TZ))
    assert _tick(state).notified == 0
    clock.set(datetime(2026, 12, 4, 7, 30, tzinfo=TZ))
    assert _tick(state).notified == 1
    # +24 h is Saturday 00:00: Monday 07:30, owner and supervisor.
    clock.set(datetime(2026, 12, 7, 7, 30, tzinfo=TZ))
    assert _tick(state).notified == 2
    drain()
    [copy] = _reminders(session, boss, f"⏰ 变更提醒：{RETEST_TITLE}")
    assert [b.label for b in copy.buttons] == ["提交重测报告"]


def test_the_demo_change_shows_the_flow_in_the_local_chat(state, session, drain):
    with session_scope(state.session_factory) as s:
        now = state.clock.now()
        assert seed_demo(s, now)
        seed_demo_change(s, now, signer=state.signer, tz=state.config.tz)
    drain()
    people = {e.employee_no: e for e in session.scalars(select(Employee))}
    for number in ("E001", "E002", "E007"):
        card = last_card(session, people[number], IMPACT_TITLE)
        assert [b.label for b in card.buttons] == ["接受", "需协商", "拒绝"]
    assert [b.label for b in last_card(session, people["S001"], IMPACT_TITLE).buttons] == [
        "确认无误", "需补充信息", "存在误解",
    ]  # fmt: skip
    assert last_card(session, people["S003"], SUMMARY_TITLE).lines[0] == (
        "确认 0/3：接受 0 · 拒绝 0 · 协商中 0"
    )


def test_a_copied_supervisor_may_report_the_retest_for_the_owner(
    client, state, session, clock, drain
):
    plant = make_plant(session)
    zhang, boss = plant["zhang"], plant["boss"]
    post_change(client, change_body(plant["engineer"], impact(owner=zhang)))
    drain()
    press(client, zhang, button(last_card(session, zhang, IMPACT_TITLE), "接受"))
    drain()
    for when in (datetime(2026, 12, 4, 7, 30, tzinfo=TZ), datetime(2026, 12, 7, 7, 30, tzinfo=TZ)):
        clock.set(when)
        _tick(state)
    drain()
    copy = last_card(session, boss, f"⏰ 变更提醒：{RETEST_TITLE}")
    press(client, boss, button(copy, "提交重测报告"))
    say(client, boss, "已代为复测，尺寸合格")
    drain()
    press(client, boss, button(last(session, boss), "通过"))
    drain()
    assert last(session, boss).text == notices.RETEST_DONE_FOR.format(
        owner=zhang.name, result="通过", points=5
    )
    assert last(session, zhang).text == notices.TO_OWNER_BY_OTHER.format(
        name=boss.name, version="B", title="3号模具冲头尺寸变更", result="通过"
    )
    assert balance(session, zhang.id) == 5
    ask = session.scalars(select(Ask).where(Ask.kind == "change_retest")).one()
    assert (ask.owner_id, ask.answered_by_id, ask.answer) == (zhang.id, boss.id, "pass")
