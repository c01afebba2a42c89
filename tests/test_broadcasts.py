"""通知 and /api/v1/broadcasts: read confirmations on one shared card, counted once per person."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.models import Ask, AskState, Outbox, Role
from bot.notices import broadcasts as notices
from bot.notices.asks import REMINDER_ICON
from tests.factories import make_employee, make_team
from tests.localchat import button, inbox, last, last_card, press, say

TOKEN = "api-token-0123456789abcdef"


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


def _api(client, method, path, body=None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def _hr(session):
    return make_employee(session, name="人事小刘", role=Role.HR)


def test_important_notice_asks_everyone_but_the_sender_for_read(client, session, drain):
    hr = _hr(session)
    boss, team = make_team(session, workers=2)
    say(client, hr, "通知 重要 周六全员安全培训，8:30 到三楼会议室")
    drain()
    assert last(session, hr).text.startswith("📣 已发出重要通知")
    for person in (boss, *team):
        card = last_card(session, person, "📢 重要通知")
        assert "周六全员安全培训，8:30 到三楼会议室" in card.lines
        assert [b.label for b in card.buttons] == [notices.READ_LABEL]
    assert not [m for m in inbox(session, hr) if getattr(m, "title", "").startswith("📢")]


def test_every_copy_of_the_shared_card_is_the_same_and_batched(client, session, drain):
    hr = _hr(session)
    make_team(session, workers=3)
    say(client, hr, "通知 重要 明天停电检修")
    session.commit()
    # Let the HR's command be handled without delivering, then look at the queued copies.
    state_rows = lambda: session.scalars(  # noqa: E731
        select(Outbox).where(Outbox.batch_key.is_not(None))
    ).all()
    drain()
    rows = state_rows()
    assert len(rows) == 4 and len({r.batch_key for r in rows}) == 1
    payloads = [{k: v for k, v in r.payload.items() if k != "key"} for r in rows]
    assert all(p == payloads[0] for p in payloads)


def test_read_press_answers_the_pressers_own_ask_once(client, session, drain):
    hr = _hr(session)
    _boss, (worker, colleague) = make_team(session, workers=2)
    say(client, hr, "通知 重要 新版作业指导书已发布")
    drain()
    read = button(last_card(session, worker, "📢 重要通知"), notices.READ_LABEL)
    press(client, worker, read)
    press(client, worker, read)  # a double click
    drain()
    mine = session.scalars(select(Ask).where(Ask.owner_id == worker.id)).one()
    assert mine.state == AskState.ANSWERED and mine.answered_by_id == worker.id
    assert last_card(session, worker, "📢 重要通知").status.startswith("已读")
    theirs = session.scalars(select(Ask).where(Ask.owner_id == colleague.id)).one()
    assert theirs.state == AskState.OPEN
    assert last_card(session, colleague, "📢 重要通知").buttons
    say(client, hr, "通知 状态")
    drain()
    status = last_card(session, hr, "通知 #")
    assert "已读 1 / 3 人" in status.lines


def test_someone_not_asked_cannot_use_a_forwarded_read_button(client, session, drain):
    hr = _hr(session)
    _boss, (worker,) = make_team(session, workers=1)
    say(client, hr, "通知 重要 食堂菜单调整")
    drain()
    read = button(last_card(session, worker, "📢 重要通知"), notices.READ_LABEL)
    press(client, hr, read)
    drain()
    assert last(session, hr).text == notices.NOT_ASKED
    assert session.scalar(select(func.count()).where(Ask.state == AskState.ANSWERED)) == 0


def test_a_worker_may_not_send_notices(client, session, drain):
    _boss, (worker,) = make_team(session, workers=1)
    say(client, worker, "通知 重要 放假啦")
    drain()
    assert last(session, worker).text == notices.ONLY_HR
    assert session.scalar(select(func.count(Ask.id))) == 0


def test_unread_gets_one_reminder_after_two_working_hours(client, session, drain, state, clock):
    hr = _hr(session)
    _boss, (worker, colleague) = make_team(session, workers=2)
    say(client, hr, "通知 重要 请更新劳保用品尺码")  # Thursday 10:00
    drain()
    press(client, colleague, button(last_card(session, colleague, "📢"), notices.READ_LABEL))
    drain()
    from bot.jobs import run_job

    def tick_after(minutes):
        clock.advance(minutes=minutes)
        run_job(state.session_factory, "escalation_tick", clock.now(), tz=state.config.tz,
                signer=state.signer, media_dir=state.config.media_dir)  # fmt: skip
        drain()

    def copies(who):
        return [m for m in inbox(session, who) if "请更新劳保用品尺码" in str(m.to_dict())]

    tick_after(119)
    assert len(copies(worker)) == 1
    tick_after(1)
    assert len(copies(worker)) == 2  # the notice and one reminder
    assert copies(worker)[-1].title.startswith(REMINDER_ICON)
    tick_after(30 * 60)
    assert len(copies(worker)) == 2
    assert len(copies(colleague)) == 1


def test_api_broadcast_to_departments_reports_read_and_unread(client, session, drain):
    boss, (worker, colleague) = make_team(session, workers=2)
    make_team(session, workers=1)  # another department: not addressed
    created = _api(client, "POST", "/broadcasts", {
        "title": "设备点检", "text": "本周五前完成点检表", "important": True,
        "to": {"departments": [boss.department.name]},
    })  # fmt: skip
    assert created.status_code == 201
    broadcast_id = created.get_json()["id"]
    assert created.get_json()["total"] == 3
    drain()
    press(client, worker, button(last_card(session, worker, "📢"), notices.READ_LABEL))
    drain()
    status = _api(client, "GET", f"/broadcasts/{broadcast_id}").get_json()
    assert status["total"] == 3 and status["read"] == 1
    assert set(status["unread"]) == {boss.employee_no, colleague.employee_no}


def test_api_broadcast_naming_an_unknown_employee_is_refused_and_sends_nothing(client, session):
    _boss, (worker,) = make_team(session, workers=1)
    response = _api(client, "POST", "/broadcasts", {
        "title": "t", "text": "x", "to": {"employees": [worker.employee_no, "E9999"]},
    })  # fmt: skip
    assert response.status_code == 400
    assert response.get_json()["field"] == "to.employees"
    assert session.scalar(select(func.count(Outbox.id))) == 0


def test_plain_notice_is_one_text_to_everyone(client, session, drain):
    hr = _hr(session)
    _boss, (worker,) = make_team(session, workers=1)
    say(client, hr, "通知 下周一起食堂延长供应时间")
    drain()
    assert last(session, worker).text == "📢 通知\n下周一起食堂延长供应时间"
    assert session.scalar(select(func.count(Ask.id))) == 0


def test_unknown_broadcast_status_is_404(client):
    assert _api(client, "GET", "/broadcasts/99").status_code == 404
