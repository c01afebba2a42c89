"""Engineering change impact (design §13) end to end through the local web chat: the owner's
接受 / 需协商 / 拒绝, the retest task and its compensation, the author's negotiation, the
notices, refusals, the live summary and `变更 <编号>`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import (
    AckDecision,
    Ask,
    AskState,
    AuditLog,
    ChangeAck,
    ChangeNotice,
    ChangeRetest,
    ChangeStatus,
    Evidence,
    LedgerEntry,
)
from bot.notices import asks as ask_texts
from bot.notices import changes as notices
from bot.services.ledger import balance, verify_ledger
from bot.signing import NOT_YOUR_BUTTON
from cards import Card, Text
from handlers import changes as handler
from tests.change_support import (
    IMPACT_TITLE,
    NEGOTIATION_TITLE,
    RETEST_TITLE,
    SUMMARY_TITLE,
    TOKEN,
    add_module,
    change_body,
    impact,
    make_plant,
    post_change,
    the_change,
)
from tests.factories import photo_bytes
from tests.localchat import button, inbox, last, last_card, press, say, send_photo

TITLE = "B 3号模具冲头尺寸变更"


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


@pytest.fixture
def plant(session):
    return make_plant(session)


def _announce(client, drain, plant, *impacts, **kw):
    impacts = impacts or (impact(owner=plant["zhang"]),)
    assert post_change(client, change_body(plant["engineer"], *impacts, **kw)).status_code == 201
    drain()


def _tap(client, session, drain, who, title, label):
    press(client, who, button(last_card(session, who, title), label))
    drain()


def _accept_and_report(client, session, drain, owner, *, report="尺寸 12.05，合格", result="通过"):
    _tap(client, session, drain, owner, IMPACT_TITLE, "接受")
    _tap(client, session, drain, owner, RETEST_TITLE, "提交重测报告")
    if isinstance(report, bytes):
        send_photo(client, owner, report)
    else:
        say(client, owner, report)
    drain()
    press(client, owner, button(last(session, owner), result))
    drain()


def _texts(session, who):
    return [m.text for m in inbox(session, who) if isinstance(m, Text)]


# -- 接受 → retest → compensation -----------------------------------------------------------------


def test_accept_opens_a_retest_task_due_after_the_effective_date(client, session, drain, plant):
    zhang = plant["zhang"]
    _announce(client, drain, plant)
    _tap(client, session, drain, zhang, IMPACT_TITLE, "接受")
    assert last(session, zhang) == Text(notices.ACCEPTED.format(title=TITLE, due="12-04 00:00"))
    task = last_card(session, zhang, RETEST_TITLE)
    assert [b.label for b in task.buttons] == ["提交重测报告"]
    assert ("截止", "12-04 00:00 前") in [(f.label, f.value) for f in task.fields]
    ack = session.scalars(select(ChangeAck)).one()
    assert ack.decision == AckDecision.ACCEPTED


def test_photo_report_and_pass_credit_compensation_traceable_to_change_and_evidence(
    client, session, drain, plant
):
    zhang = plant["zhang"]
    _announce(client, drain, plant, impact(owner=zhang), impact(owner=zhang, object="送料机",
                                                                action="校准", compensation_points=3))  # fmt: skip
    _accept_and_report(client, session, drain, zhang, report=photo_bytes(21))
    assert last(session, zhang) == Text(
        notices.RETEST_CREDITED.format(result="通过", points=8, balance=8)
    )
    change = the_change(session)
    retest = session.scalars(select(ChangeRetest)).one()
    entry = session.get(LedgerEntry, retest.ledger_entry_id)
    assert (entry.employee_id, entry.points, entry.category, entry.kind) == (zhang.id, 8, "变更",
                                                                               "change")  # fmt: skip
    assert f"#{change.id} ECO-2026-118" in entry.memo and f"重测 #{retest.id}" in entry.memo
    assert session.get(Evidence, retest.evidence_id).employee_id == zhang.id
    assert (retest.result, retest.source, retest.reported_by_id) == ("pass", "chat", zhang.id)
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "change.retest")).one()
    assert (
        audit.detail["ledger_entry"] == entry.id and audit.detail["evidence"] == retest.evidence_id
    )
    assert verify_ledger(session).ok


def test_a_failed_retest_is_reported_and_still_compensated(client, session, drain, plant):
    zhang = plant["zhang"]
    _announce(client, drain, plant)
    _accept_and_report(client, session, drain, zhang, report="毛刺超差", result="不通过")
    retest = session.scalars(select(ChangeRetest)).one()
    assert (retest.result, retest.note) == ("fail", "毛刺超差")
    assert balance(session, zhang.id) == 5


def test_every_copy_of_the_retest_task_shows_the_result(client, session, drain, plant):
    zhang = plant["zhang"]
    _announce(client, drain, plant)
    _accept_and_report(client, session, drain, zhang)
    copies = [
        m for m in inbox(session, zhang) if isinstance(m, Card) and m.title.startswith(RETEST_TITLE)
    ]
    assert len(copies) == 2  # the task, and the copy handed over with 通过 / 不通过
    assert all(c.buttons == () and c.status.startswith(f"重测通过 · {zhang.name} · 10:00")
               for c in copies)  # fmt: skip
    impact_card = last_card(session, zhang, IMPACT_TITLE)
    assert impact_card.status.startswith(f"已接受 · {zhang.name} · 10:00")


# -- 需协商 → the author answers ----------------------------------------------------------------------


def _negotiate(client, session, drain, owner, reason="工时不足，需要 4 小时"):
    _tap(client, session, drain, owner, IMPACT_TITLE, "需协商")
    say(client, owner, reason)
    drain()


def test_negotiate_asks_the_author_with_the_owners_reason(client, session, drain, plant):
    zhang, engineer = plant["zhang"], plant["engineer"]
    _announce(client, drain, plant)
    _negotiate(client, session, drain, zhang)
    assert last(session, zhang) == Text(notices.NEGOTIATING.format(author=engineer.name))
    card = last_card(session, engineer, NEGOTIATION_TITLE)
    assert card.lines[0] == f"{zhang.name}：工时不足，需要 4 小时"
    assert [b.label for b in card.buttons] == ["同意调整", "维持原方案"]
    ack = session.scalars(select(ChangeAck)).one()
    assert (ack.decision, ack.reason) == (AckDecision.NEGOTIATING, "工时不足，需要 4 小时")


@pytest.mark.parametrize(
    ("label", "line"),
    [("同意调整", notices.ADJUSTED_LINE), ("维持原方案", notices.MAINTAINED_LINE)],
    ids=["adjust", "maintain"],
)
def test_the_authors_answer_goes_back_to_the_owner_to_confirm_again(
    client, session, drain, plant, label, line
):
    zhang, engineer = plant["zhang"], plant["engineer"]
    _announce(client, drain, plant)
    _negotiate(client, session, drain, zhang)
    _tap(client, session, drain, engineer, NEGOTIATION_TITLE, label)
    say(client, engineer, "按 4 小时计，补偿 +8")
    drain()
    assert last(session, engineer) == Text(
        notices.NEGOTIATION_SENT.format(owner=zhang.name, outcome=label)
    )
    again = last_card(session, zhang, IMPACT_TITLE)
    assert again.lines[0] == line.format(reason="按 4 小时计，补偿 +8")
    assert [b.label for b in again.buttons] == ["接受", "拒绝"]
    _tap(client, session, drain, zhang, IMPACT_TITLE, "接受")
    assert session.scalars(select(ChangeAck)).one().decision == AckDecision.ACCEPTED
    assert last_card(session, zhang, RETEST_TITLE).buttons


# -- 拒绝 -----------------------------------------------------------------------------------------------


def test_reject_informs_the_author_and_the_owners_supervisor(client, session, drain, plant):
    zhang, engineer, boss = plant["zhang"], plant["engineer"], plant["boss"]
    _announce(client, drain, plant, impact(owner=zhang), impact(owner=plant["liu"]))
    _tap(client, session, drain, zhang, IMPACT_TITLE, "拒绝")
    _tap(client, session, drain, zhang, "拒绝：", "不属于我负责的模块")
    values = {"owner": zhang.name, "version": "B", "title": "3号模具冲头尺寸变更",
              "reason": "不属于我负责的模块", "author": engineer.name}  # fmt: skip
    assert notices.TO_AUTHOR_REJECTED.format(**values) in _texts(session, engineer)
    assert _texts(session, boss) == [notices.TO_SUPERVISOR_REJECTED.format(**values)]
    assert last(session, zhang) == Text(
        notices.REJECTED.format(title=TITLE, people=f"{engineer.name}、{boss.name}")
    )
    assert last_card(session, zhang, IMPACT_TITLE).status.startswith("已拒绝 · ")
    assert session.scalars(select(ChangeRetest)).all() == []


# -- notices --------------------------------------------------------------------------------------------


def test_notice_confirmed_is_recorded(client, session, drain, plant):
    boss = plant["boss"]
    _announce(client, drain, plant, notify=[boss.employee_no])
    _tap(client, session, drain, boss, IMPACT_TITLE, "确认无误")
    assert last(session, boss) == Text(notices.NOTICE_CONFIRMED.format(title=TITLE))
    assert session.scalars(select(ChangeNotice)).one().response == "confirmed"


def test_more_info_with_a_photo_reaches_the_author(client, session, drain, plant):
    boss, engineer = plant["boss"], plant["engineer"]
    _announce(client, drain, plant, notify=[boss.employee_no])
    _tap(client, session, drain, boss, IMPACT_TITLE, "需补充信息")
    send_photo(client, boss, photo_bytes(33))
    drain()
    notice = session.scalars(select(ChangeNotice)).one()
    card = last_card(session, engineer, "变更反馈")
    assert card.image == f"evidence:{notice.evidence_id}"
    assert card.lines == (f"{boss.name}：需补充信息",)
    assert last(session, boss) == Text(notices.NOTICE_SENT.format(author=engineer.name))


def test_misunderstanding_takes_a_text_for_the_author(client, session, drain, plant):
    boss, engineer = plant["boss"], plant["engineer"]
    _announce(client, drain, plant, notify=[boss.employee_no])
    _tap(client, session, drain, boss, IMPACT_TITLE, "存在误解")
    say(client, boss, "3号模具已停用，应为5号")
    drain()
    assert last_card(session, engineer, "变更反馈").lines == (
        f"{boss.name}：存在误解",
        "3号模具已停用，应为5号",
    )
    assert session.scalars(select(ChangeNotice)).one().response == "misunderstanding"


# -- refusals ----------------------------------------------------------------------------------------


def test_a_click_by_someone_else_is_refused(client, session, drain, plant):
    zhang, liu = plant["zhang"], plant["liu"]
    _announce(client, drain, plant)
    press(client, liu, button(last_card(session, zhang, IMPACT_TITLE), "接受"))
    drain()
    assert last(session, liu) == Text(NOT_YOUR_BUTTON)
    assert session.scalars(select(ChangeAck)).one().decision == AckDecision.PENDING


def test_an_answer_after_the_change_was_closed_is_refused_politely(client, session, drain, plant):
    zhang, hr = plant["zhang"], plant["hr"]
    _announce(client, drain, plant)
    accept = button(last_card(session, zhang, IMPACT_TITLE), "接受")
    say(client, hr, "变更 关闭 ECO-2026-118 PLM 已撤销")
    drain()
    assert last(session, hr) == Text(handler.CLOSED_REPLY.format(title=TITLE, count=1))
    press(client, zhang, accept)
    drain()
    assert last(session, zhang) == Text(ask_texts.ALREADY_CLOSED.format(outcome="变更已关闭"))
    assert last_card(session, zhang, IMPACT_TITLE).status == "变更已关闭"
    assert the_change(session).status == ChangeStatus.CLOSED
    assert session.scalars(select(ChangeAck)).one().decision == AckDecision.PENDING
    assert notices.TO_AUTHOR_CLOSED.format(version="B", title="3号模具冲头尺寸变更",
                                           name=hr.name, reason="PLM 已撤销") in _texts(
        session, plant["engineer"])  # fmt: skip


def test_a_second_answer_is_refused(client, session, drain, plant):
    zhang = plant["zhang"]
    _announce(client, drain, plant)
    accept = button(last_card(session, zhang, IMPACT_TITLE), "接受")
    press(client, zhang, accept)
    press(client, zhang, accept)
    drain()
    assert last(session, zhang).text.startswith(
        f"这项变更确认已由 {zhang.name} 于 10:00 处理（已接受）"
    )
    assert len(session.scalars(select(ChangeRetest)).all()) == 1


# -- completion and the summary ----------------------------------------------------------------------


def test_the_change_completes_once_everyone_decided_and_retests_are_reported(
    client, session, drain, plant
):
    zhang, liu, boss, engineer = plant["zhang"], plant["liu"], plant["boss"], plant["engineer"]
    add_module(session, "冲压模具", zhang, liu)
    _announce(client, drain, plant, impact(module="冲压模具"), notify=[boss.employee_no])
    _accept_and_report(client, session, drain, zhang)
    assert the_change(session).status == ChangeStatus.OPEN
    _tap(client, session, drain, liu, IMPACT_TITLE, "拒绝")
    say(client, liu, "不属于我负责的模块")
    drain()
    change = the_change(session)
    assert change.status == ChangeStatus.CLOSED and change.first_retest_at is not None
    assert last_card(session, boss, IMPACT_TITLE).status == notices.DONE_OUTCOME
    assert _texts(session, engineer)[-1].startswith("✅ 变更「B 3号模具冲头尺寸变更」已全部确认")
    waiting = session.scalars(select(Ask).where(Ask.state.in_(("open", "acknowledged"))))
    assert waiting.all() == []


def test_the_authors_summary_follows_every_answer(client, session, drain, plant):
    zhang, liu, engineer = plant["zhang"], plant["liu"], plant["engineer"]
    _announce(client, drain, plant, impact(owner=zhang), impact(owner=liu))
    summary = last_card(session, engineer, SUMMARY_TITLE)
    assert summary.lines[:2] == ("确认 0/2：接受 0 · 拒绝 0 · 协商中 0",
                                 f"待确认 2 人：{zhang.name}、{liu.name}")  # fmt: skip
    _tap(client, session, drain, zhang, IMPACT_TITLE, "接受")
    _negotiate(client, session, drain, liu, "排产冲突")
    summary = last_card(session, engineer, SUMMARY_TITLE)  # the same message, updated
    assert (
        len([m for m in inbox(session, engineer) if getattr(m, "title", "") == SUMMARY_TITLE]) == 1
    )
    assert summary.lines[:3] == ("确认 1/2：接受 1 · 拒绝 0 · 协商中 1",
                                 f"协商：{liu.name}（排产冲突）· 待发起人回复",
                                 "重测已报告 0/1：通过 0 · 不通过 0")  # fmt: skip


def test_hr_sees_the_summary_with_the_change_command(client, session, drain, plant):
    hr = plant["hr"]
    _announce(client, drain, plant)
    change = the_change(session)
    say(client, hr, f"变更 {change.id}")
    drain()
    card = last(session, hr)
    assert card.title == SUMMARY_TITLE and card.key == f"change:{change.id}"
    assert card.lines[1] == f"待确认 1 人：{plant['zhang'].name}"


def test_a_worker_may_not_see_someone_elses_change(client, session, drain, plant):
    _announce(client, drain, plant)
    say(client, plant["liu"], "变更 ECO-2026-118")
    drain()
    assert last(session, plant["liu"]) == Text(handler.ONLY_AUTHOR_OR_HR)


def test_an_unknown_change_number_is_answered(client, session, drain, plant):
    say(client, plant["hr"], "变更 999")
    drain()
    assert last(session, plant["hr"]) == Text(handler.UNKNOWN_CHANGE.format(ref="999"))


def test_the_change_command_alone_lists_the_authors_open_changes(client, session, drain, plant):
    _announce(client, drain, plant)
    say(client, plant["engineer"], "变更")
    drain()
    card = last(session, plant["engineer"])
    assert card.title == handler.LIST_TITLE.format(total=1)
    assert card.lines == (f"#{the_change(session).id} {TITLE} · 确认 0/1",)


def test_open_change_asks_are_listed_by_tasks(client, session, drain, plant):
    zhang = plant["zhang"]
    _announce(client, drain, plant)
    say(client, zhang, "任务")
    drain()
    summary = last_card(session, zhang, "我的待办")
    assert summary.lines == (f"· 变更通知 · {TITLE}（截止 12-03 00:00）",)
    assert [b.label for b in last(session, zhang).buttons] == ["接受", "需协商", "拒绝"]
    ask = session.scalars(select(Ask).where(Ask.kind == "change_impact")).one()
    assert ask.state == AskState.OPEN


def test_the_consoles_overview_charts_first_retest_hours_against_the_baseline(
    client, session, clock, drain, plant
):
    from tests.consoleweb import sign_in

    zhang, hr = plant["zhang"], plant["hr"]
    sign_in(client, session, drain, hr)
    before = client.get("/console/").get_data(as_text=True)
    assert "变更到首次重测报告" not in before  # no change yet: no empty chart
    _announce(client, drain, plant, impact(owner=zhang))
    clock.advance(hours=41, minutes=30)
    _accept_and_report(client, session, drain, zhang)
    sign_in(client, session, drain, hr)  # a day and a half later: the session has ended
    page = client.get("/console/").get_data(as_text=True)
    assert "变更到首次重测报告（中位数）" in page and "改进前基线 72 小时" in page
    assert "42 小时" in page  # 41.5 h, labelled on the chart


def test_the_summary_shows_first_retest_hours_and_the_weeks_median(
    client, session, clock, drain, plant
):
    zhang, liu, hr = plant["zhang"], plant["liu"], plant["hr"]
    _announce(client, drain, plant, impact(owner=zhang), impact(owner=liu))
    clock.advance(hours=41, minutes=30)
    _accept_and_report(client, session, drain, zhang)
    say(client, hr, f"变更 {the_change(session).id}")
    drain()
    lines = last(session, hr).lines
    assert "首次重测：41.5 小时（基线 72 小时）" in lines
    assert "当周中位数：41.5 小时（1 个变更）" in lines
