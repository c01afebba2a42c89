"""Suggestions (design §15): 建议 to the supervisor on a 72-hour clock, 采纳 / 需讨论 / 不采纳,
已实施 crediting A06, the 💡 button on task cards, and HR's monthly counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot import asks
from bot.db import session_scope
from bot.models import (
    Ask,
    AskState,
    Campaign,
    Claim,
    ClaimState,
    LedgerEntry,
    Role,
    Suggestion,
    SuggestionState,
)
from bot.notices import suggestions as texts
from bot.services.ledger import balance
from bot.services.tasks import create_task
from handlers.claim import PICK_TITLE
from tests.conftest import TZ
from tests.factories import make_employee, make_team, photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo

IDEA = "冲床换模时用定位销，能省 10 分钟"


def _chain(session):
    """A worker, their supervisor, the supervisor's manager, and HR."""
    boss, (worker,) = make_team(session, workers=1)
    manager = make_employee(session, name="陈经理", role=Role.SUPERVISOR)
    hr = make_employee(session, name="周敏", role=Role.HR)
    boss.supervisor = manager
    session.commit()
    return hr, manager, boss, worker


def _tick(state):
    with session_scope(state.session_factory) as s:
        return asks.tick(s, state.clock.now(), signer=state.signer, tz=state.config.tz)


def _suggest(client, session, drain, worker, text=IDEA):
    say(client, worker, f"建议 {text}")
    drain()
    return session.scalars(select(Suggestion).order_by(Suggestion.id.desc())).first()


def test_suggestion_reaches_the_supervisor_with_three_choices(client, session, drain):
    _hr, _manager, boss, worker = _chain(session)
    suggestion = _suggest(client, session, drain, worker)
    assert suggestion.state == SuggestionState.OPEN and suggestion.text == IDEA
    card = last_card(session, boss, "💡 改善建议")
    assert card.lines == (IDEA,)
    assert [b.label for b in card.buttons] == ["采纳", "需讨论", "不采纳"]
    assert {f.label: f.value for f in card.fields}["答复期限"] == "11-29 10:00 前（72 小时）"
    assert last(session, worker).text == texts.SUBMITTED.format(
        id=suggestion.id, reviewer="王主管", due="11-29 10:00"
    )


def test_a_photo_sent_just_before_is_attached(client, session, drain):
    _hr, _manager, boss, worker = _chain(session)
    send_photo(client, worker, photo_bytes(21))
    drain()
    suggestion = _suggest(client, session, drain, worker)
    assert suggestion.evidence_id is not None
    assert last_card(session, boss, "💡 改善建议").image == f"evidence:{suggestion.evidence_id}"
    assert last_card(session, worker, PICK_TITLE).status == texts.PHOTO_USED.format(
        id=suggestion.id
    )


def test_empty_or_tiny_suggestions_are_refused(client, session, drain):
    _hr, _manager, _boss, worker = _chain(session)
    say(client, worker, "建议")
    drain()
    assert last(session, worker).text == texts.USAGE
    say(client, worker, "建议 好")
    drain()
    assert last(session, worker).text == texts.TOO_SHORT
    assert session.scalar(select(Suggestion.id)) is None


def test_adopt_then_implemented_credits_a06_with_the_bonus_named(client, session, drain, clock):
    session.add(
        Campaign(name="上线推广", bonus_points=2, starts_at=clock.now() - timedelta(days=1),
                 ends_at=clock.now() + timedelta(days=30))
    )  # fmt: skip
    session.commit()
    _hr, _manager, boss, worker = _chain(session)
    suggestion = _suggest(client, session, drain, worker)
    press(client, boss, button(last_card(session, boss, "💡 改善建议"), "采纳"))
    drain()
    assert last(session, worker).text == texts.ADOPTED.format(
        id=suggestion.id, name="王主管", rule="A06 改善提案被采纳并实施"
    )
    follow_up = last_card(session, boss, "已采纳建议")
    assert [b.label for b in follow_up.buttons] == ["已实施", "不实施"]
    assert follow_up.note.endswith("+17 分（含上线推广 +2）。")
    press(client, boss, button(follow_up, "已实施"))
    drain()
    session.refresh(suggestion)
    claim = session.get(Claim, suggestion.claim_id)
    assert suggestion.state == SuggestionState.IMPLEMENTED
    assert (claim.rule.code, claim.state, claim.points_credited) == ("A06", ClaimState.APPROVED, 17)
    assert balance(session, worker.id) == 17
    assert last(session, worker).text == texts.IMPLEMENTED.format(
        id=suggestion.id, rule="A06 改善提案被采纳并实施", award="+17 分（含上线推广 +2）",
        balance=17,
    )  # fmt: skip


def test_decline_needs_a_reason_and_tells_the_author(client, session, drain):
    _hr, _manager, boss, worker = _chain(session)
    suggestion = _suggest(client, session, drain, worker)
    press(client, boss, button(last_card(session, boss, "💡 改善建议"), "不采纳"))
    drain()
    assert last_card(session, boss, "不采纳建议").lines[0].startswith("请选择不采纳的原因")
    say(client, boss, "定位销会影响模具寿命")
    drain()
    session.refresh(suggestion)
    assert suggestion.state == SuggestionState.DECLINED
    assert last(session, worker).text == texts.DECLINED.format(
        id=suggestion.id, name="王主管", reason="定位销会影响模具寿命"
    )
    assert session.scalar(select(LedgerEntry.id)) is None


def test_reminder_at_48_hours_then_next_level_and_hr_at_72(client, state, session, drain, clock):
    hr, manager, boss, worker = _chain(session)
    clock.advance(days=4)  # Monday 10:00: 48 h and 72 h fall on workdays
    _suggest(client, session, drain, worker)
    clock.advance(hours=47, minutes=59)
    assert _tick(state).notified == 0
    clock.advance(minutes=1)
    assert _tick(state).notified == 1
    drain()
    reminder = last_card(session, boss, "⏰ 建议答复")
    assert [b.label for b in reminder.buttons] == ["采纳", "需讨论", "不采纳"]
    clock.advance(hours=23, minutes=59)
    assert _tick(state).notified == 0
    clock.advance(minutes=1)
    assert _tick(state).notified == 2  # the next level and HR
    drain()
    assert last_card(session, manager, "⏰ 建议答复").title.startswith("⏰ 建议答复：💡 建议 #")
    assert last_card(session, hr, "⏰ 建议答复")
    assert not [m for m in inbox(session, manager) if m.title.startswith("💡 改善建议")]


def test_escalated_manager_may_answer(client, state, session, drain, clock):
    _hr, manager, _boss, worker = _chain(session)
    suggestion = _suggest(client, session, drain, worker)
    clock.advance(days=4)  # Monday: 48 h and 72 h both past
    _tick(state)
    _tick(state)
    drain()
    press(client, manager, button(last_card(session, manager, "⏰ 建议答复"), "采纳"))
    drain()
    session.refresh(suggestion)
    assert suggestion.state == SuggestionState.ADOPTED and suggestion.decided_by_id == manager.id


def test_discuss_stops_the_clock_and_leaves_the_decision_open(client, state, session, drain, clock):
    _hr, _manager, boss, worker = _chain(session)
    suggestion = _suggest(client, session, drain, worker)
    press(client, boss, button(last_card(session, boss, "💡 改善建议"), "需讨论"))
    drain()
    assert last(session, worker).text == texts.DISCUSSING.format(id=suggestion.id, name="王主管")
    ask = session.scalars(select(Ask).where(Ask.kind == texts.REVIEW_KIND)).one()
    assert ask.state == AskState.ACKNOWLEDGED and ask.next_step_at is None
    assert [b.label for b in last_card(session, boss, "💡 改善建议").buttons] == ["采纳", "不采纳"]
    session.refresh(suggestion)
    assert suggestion.answered_at == clock.now()
    press(client, boss, button(last_card(session, boss, "💡 改善建议"), "采纳"))
    drain()
    session.refresh(suggestion)
    assert suggestion.state == SuggestionState.ADOPTED


def test_task_cards_carry_a_suggestion_button(client, state, session, drain):
    _hr, _manager, boss, worker = _chain(session)
    with session_scope(state.session_factory) as s:
        task = create_task(
            s, owner=s.get(type(worker), worker.id), title="3号冲床首检", now=state.clock.now(),
            tz=TZ,
        )  # fmt: skip
        task_id = task.id
    say(client, worker, "任务")
    drain()
    card = last_card(session, worker, "3号冲床首检")
    assert [b.label for b in card.buttons] == ["知道了·处理中", "已完成", texts.BUTTON_LABEL]
    press(client, worker, button(card, "💡"))
    drain()
    assert last(session, worker).text == texts.DRAFT_PROMPT.format(
        about=texts.DRAFT_ABOUT.format(title="3号冲床首检")
    )
    say(client, worker, "首检量具放在冲床旁边的固定架上")
    drain()
    suggestion = session.scalars(select(Suggestion)).one()
    assert suggestion.task_id == task_id
    fields = {f.label: f.value for f in last_card(session, boss, "💡 改善建议").fields}
    assert fields["关于任务"] == "3号冲床首检"


def test_cancel_after_the_bulb_submits_nothing(client, state, session, drain):
    _hr, _manager, _boss, worker = _chain(session)
    with session_scope(state.session_factory) as s:
        create_task(
            s, owner=s.get(type(worker), worker.id), title="点检", now=state.clock.now(), tz=TZ
        )
    say(client, worker, "任务")
    drain()
    press(client, worker, button(last_card(session, worker, "点检"), "💡"))
    say(client, worker, "取消")
    drain()
    assert last(session, worker).text == texts.DRAFT_CANCELLED
    assert session.scalar(select(Suggestion.id)) is None


def test_hr_gets_the_months_counts_by_department(client, state, session, drain, clock):
    hr, _manager, boss, worker = _chain(session)
    _suggest(client, session, drain, worker)
    _suggest(client, session, drain, worker, "废料箱加装滑轮，搬运更省力")
    press(client, boss, button(last_card(session, boss, "💡 改善建议"), "采纳"))
    drain()
    say(client, hr, "建议 统计")
    drain()
    card = last_card(session, hr, "💡 2026-11 建议统计")
    dept = worker.department.name
    assert card.lines[0] == texts.STATS_LINE.format(
        dept=dept, submitted=2, on_time=1, late=0, adopted=1, implemented=0
    )
    say(client, worker, "建议 统计")
    drain()
    assert last(session, worker).text == texts.STATS_HR_ONLY


def test_unanswered_past_72_hours_counts_as_late(client, state, session, drain, clock):
    hr, _manager, _boss, worker = _chain(session)
    _suggest(client, session, drain, worker)
    clock.advance(hours=73)
    say(client, hr, "建议 统计 2026-11")
    drain()
    assert "超时 1" in last_card(session, hr, "💡 2026-11").lines[0]


def test_only_the_addressed_people_may_answer(client, session, drain):
    _hr, _manager, boss, worker = _chain(session)
    colleague = make_employee(session, supervisor=boss)
    _suggest(client, session, drain, worker)
    adopt = button(last_card(session, boss, "💡 改善建议"), "采纳")
    press(client, colleague, adopt)
    drain()
    assert last(session, colleague).text.startswith("这个按钮不是发给你的")
    assert session.scalars(select(Suggestion)).one().state == SuggestionState.OPEN


def test_monthly_job_sends_hr_last_months_counts_once(client, state, session, drain, clock):
    from datetime import datetime

    from bot.jobs import run_job
    from bot.models import Outbox

    hr, _manager, boss, worker = _chain(session)
    _suggest(client, session, drain, worker)
    december_first = datetime(2026, 12, 1, 9, 37, tzinfo=TZ)

    def run():
        return run_job(
            state.session_factory, "monthly_suggestions", december_first, tz=TZ,
            signer=state.signer, media_dir=state.config.media_dir,
        )  # fmt: skip

    outcome = run()
    assert outcome.ran and outcome.result == "suggestions=1 sent=1"
    assert not run().ran
    session.commit()  # end the read snapshot: see what the job committed
    rows = session.scalars(select(Outbox).where(Outbox.recipient_id == hr.id)).all()
    assert rows[-1].payload["title"] == texts.STATS_TITLE.format(month="2026-11")
    assert rows[-1].payload["lines"][0].startswith(f"{worker.department.name}：提交 1")


def test_suggestions_report_cli_prints_a_row_per_department(
    client, state, session, drain, tmp_path
):
    from click.testing import CliRunner

    from bot.cli import cli
    from tests.conftest import SECRET

    _hr, _manager, _boss, worker = _chain(session)
    _suggest(client, session, drain, worker)
    env = {
        "DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
        "BOT_SECRET_KEY": SECRET,
        "BOT_VAR_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(cli, ["suggestions", "report", "--month", "2026-11"], env=env)
    assert result.exit_code == 0, result.output
    dept, submitted, *_rest = result.output.splitlines()[0].split("\t")
    assert (dept, submitted) == (worker.department.name, "1")
    bad = CliRunner().invoke(cli, ["suggestions", "report", "--month", "11/2026"], env=env)
    assert bad.exit_code == 2


def test_the_consoles_overview_shows_this_months_suggestions_against_the_clock(
    client, session, drain, clock
):
    from tests.consoleweb import sign_in

    hr, _manager, boss, worker = _chain(session)
    _suggest(client, session, drain, worker)
    _suggest(client, session, drain, worker, "料架加轮子，搬运省力")
    press(client, boss, button(last_card(session, boss, "💡 改善建议"), "采纳"))
    drain()
    clock.advance(hours=73)  # the other one is now past its 72 hours, unanswered
    sign_in(client, session, drain, hr)
    page = client.get("/console/").get_data(as_text=True)
    assert "本月合理化建议（72 小时内答复）" in page
    assert "提交：<b>2 条</b>" in page and "按时答复：<b>1 条</b>" in page
    assert "超时或未答复：<b>1 条</b>" in page and "采纳：<b>1 条</b>" in page
