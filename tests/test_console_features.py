"""HR console pages of the features that landed after the console: 申诉 (with the evidence-chain
download), 通知 and 问卷. Each reads and changes through the service the chat, API and CLI use;
every change is in the audit log; a worker gets 403; a form without its CSRF token changes
nothing."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.models import Appeal, AuditLog, Broadcast, Claim, Outbox, Role, Survey
from bot.notices import surveys as survey_texts
from bot.services.surveys import Question, SurveySpec, create_survey
from handlers.claim import PICK_TITLE
from tests.consoleweb import csrf_of, post_form, sign_in
from tests.factories import make_department, make_employee, make_team, photo_bytes
from tests.localchat import button, last_card, press, say, send_photo

APPEAL_REASON = "照片右下角能看到 3 号模具编号"
REJECTION = "看不出是什么问题"


@pytest.fixture
def hr(session):
    dept = make_department(session, "人力资源部")
    return make_employee(session, name="周敏", employee_no="H001", role=Role.HR, department=dept)


@pytest.fixture
def signed_in(client, session, drain, hr):
    sign_in(client, session, drain, hr)
    return client


def _audits(session, action: str) -> list[AuditLog]:
    session.commit()  # end the read snapshot: see what the app committed
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


# -- 申诉 --------------------------------------------------------------------------------------


@pytest.fixture
def appealed(client, session, drain, hr):
    """A worker's photo claim, rejected by a supervisor who has no boss, and appealed: the
    appeal's review ask goes to HR (周敏)."""
    boss, (worker, _) = make_team(session)
    send_photo(client, worker, photo_bytes(5))
    drain()
    press(client, worker, button(last_card(session, worker, PICK_TITLE), "A01"))
    drain()
    claim = session.scalars(select(Claim)).one()
    press(client, boss, button(last_card(session, boss, f"待审核申领 #{claim.id}"), "驳回"))
    drain()
    say(client, boss, REJECTION)
    drain()
    say(client, worker, f"申诉 {claim.id} {APPEAL_REASON}")
    drain()
    return worker, claim


def test_appeals_page_lists_the_appeal_with_its_photo_and_a_link_to_my_asks(
    signed_in, session, appealed
):
    worker, claim = appealed
    page = signed_in.get("/console/appeals/").get_data(as_text=True)

    appeal = session.scalars(select(Appeal)).one()
    assert f"申诉 #{appeal.id}" in page and f"{worker.name}（{worker.employee_no}）" in page
    assert f"#{claim.id} A01" in page and REJECTION in page and APPEAL_REASON in page
    assert "待复核" in page and "周敏" in page
    photo = f"/console/evidence/{claim.evidence_id}"
    assert f'src="{photo}"' in page
    assert signed_in.get(photo).data[:3] == b"\xff\xd8\xff"  # the stored JPEG
    ask_id = re.search(r'href="/console/tasks/#ask-(\d+)"', page).group(1)
    assert f'id="ask-{ask_id}"' in signed_in.get("/console/tasks/").get_data(as_text=True)


def test_evidence_download_is_the_exports_zip_and_its_proof_passes_ledger_verify(
    signed_in, session, appealed, hr, run_cli, tmp_path
):
    worker, claim = appealed
    page = signed_in.get("/console/appeals/").get_data(as_text=True)
    ask_id = re.search(r'href="/console/tasks/#ask-(\d+)"', page).group(1)
    post_form(signed_in, "/console/tasks/", f"/console/tasks/{ask_id}", {"choice": "overturn"})
    assert "改判通过" in signed_in.get("/console/appeals/").get_data(as_text=True)

    response = post_form(signed_in, "/console/appeals/", "/console/appeals/evidence.zip",
                         {"employee_no": worker.employee_no, "months": "3"})  # fmt: skip

    assert response.status_code == 200 and response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert f"evidence-{worker.employee_no}-" in disposition
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {"README.txt", "index.xlsx", "chain-proof.json",
            f"photos/evidence-{claim.evidence_id}.jpg"} == set(archive.namelist())  # fmt: skip
    (entry,) = _audits(session, "evidence.export")
    assert (entry.actor_id, entry.object_id, entry.detail["months"]) == (
        hr.id, worker.employee_no, 3
    )  # fmt: skip
    assert entry.detail["claims"] == 1 and entry.detail["appeals"] == 1
    assert entry.detail["entries"] == 1 and entry.detail["proof_seq"] is not None

    proof = tmp_path / "chain-proof.json"
    proof.write_bytes(archive.read("chain-proof.json"))
    code, output = run_cli("ledger", "verify", "--checkpoint", str(proof))
    assert code == 0 and "chain intact" in output and "1 proof(s) sound" in output
    altered = json.loads(proof.read_text(encoding="utf-8"))
    altered["entries"].append(dict(altered["entries"][-1], points=99))
    proof.write_text(json.dumps(altered, ensure_ascii=False), encoding="utf-8")
    assert run_cli("ledger", "verify", "--checkpoint", str(proof))[0] == 1


def test_evidence_download_without_its_csrf_token_is_refused(signed_in, session, appealed):
    worker, _ = appealed
    response = signed_in.post("/console/appeals/evidence.zip",
                              data={"employee_no": worker.employee_no})  # fmt: skip
    assert response.status_code == 400 and response.mimetype != "application/zip"
    assert _audits(session, "evidence.export") == []


def test_evidence_download_of_an_unknown_number_says_so(signed_in, session):
    response = post_form(signed_in, "/console/appeals/", "/console/appeals/evidence.zip",
                         {"employee_no": "E404"})  # fmt: skip
    assert response.status_code == 302
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "没有工号为 E404 的员工" in page and _audits(session, "evidence.export") == []


# -- 通知 --------------------------------------------------------------------------------------

NOTICE = "周六全员加班，请准时到岗"


def _last_outbox(session) -> int:
    session.commit()  # end the read snapshot: see what the app committed
    return session.scalar(select(func.max(Outbox.id))) or 0


def _send_notice(client, department: str = "", title: str = "加班安排"):
    return post_form(client, "/console/broadcasts/", "/console/broadcasts/send",
                     {"title": title, "text": NOTICE, "department": department})  # fmt: skip


def test_an_important_notice_sent_from_the_console_reaches_its_department(
    signed_in, session, drain, hr
):
    boss, (a, b) = make_team(session)
    make_employee(session, name="不相关", department=make_department(session, "仓库"))
    before = _last_outbox(session)
    response = _send_notice(signed_in, boss.department.path)

    assert response.status_code == 302
    session.commit()  # end the read snapshot: see what the app committed
    broadcast = session.scalars(select(Broadcast)).one()
    assert (broadcast.important, broadcast.total, broadcast.sender_id) == (True, 3, hr.id)
    assert broadcast.source == "console"
    recipients = set(session.scalars(select(Outbox.recipient_id).where(Outbox.id > before)))
    assert recipients == {boss.id, a.id, b.id}
    (entry,) = _audits(session, "broadcast.send")
    assert (entry.actor_id, entry.object_id) == (hr.id, str(broadcast.id))
    assert entry.detail["to"] == {"departments": [boss.department.path]}
    assert entry.detail["total"] == 3
    drain()
    card = last_card(session, a, "📢 重要通知：加班安排")
    assert NOTICE in card.lines and button(card, "已读")
    page = signed_in.get("/console/broadcasts/").get_data(as_text=True)
    assert f"已发出重要通知 #{broadcast.id}：3 人需确认已读" in page


def test_broadcasts_page_shows_the_read_rate_and_who_has_not_read(signed_in, session, drain):
    boss, (a, b) = make_team(session)
    _send_notice(signed_in, boss.department.path)
    drain()
    press(signed_in, a, button(last_card(session, a, "📢 重要通知"), "已读"))
    drain()

    page = signed_in.get("/console/broadcasts/").get_data(as_text=True)
    assert "1/3 已读" in page and "未读 2 人" in page
    unread = re.search(r'<p class="small unread">(.*?)</p>', page, re.S).group(1)
    assert f"{boss.name}（{boss.employee_no}）" in unread and b.name in unread
    assert a.name not in unread
    assert NOTICE in page and "加班安排" in page


def test_a_notice_to_everyone_goes_to_every_active_person_but_the_sender(signed_in, session, hr):
    boss, team = make_team(session, workers=3)
    _send_notice(signed_in)
    session.commit()  # end the read snapshot: see what the app committed
    assert session.scalars(select(Broadcast)).one().total == 4


def test_a_notice_without_its_csrf_token_is_refused_and_sends_nothing(signed_in, session):
    make_team(session)
    before = _last_outbox(session)
    response = signed_in.post("/console/broadcasts/send", data={"text": NOTICE})
    assert response.status_code == 400
    session.commit()  # end the read snapshot: see what the app committed
    assert session.scalar(select(func.count(Broadcast.id))) == 0
    assert _last_outbox(session) == before and _audits(session, "broadcast.send") == []


def test_an_empty_notice_is_not_sent(signed_in, session):
    make_team(session)
    post_form(signed_in, "/console/broadcasts/", "/console/broadcasts/send", {"text": "  "})
    assert "请填写通知内容" in signed_in.get("/console/broadcasts/").get_data(as_text=True)
    session.commit()  # end the read snapshot: see what the app committed
    assert session.scalar(select(func.count(Broadcast.id))) == 0


# -- 问卷 --------------------------------------------------------------------------------------

QUESTIONS = (
    Question("交接记录是否完整清楚", "scale"),
    Question("请举一个他最近做得好的具体例子", "text"),
)
COMMENTS = ("交接记录写得很清楚", "主动帮新人调机", "首检照片上传及时")


@pytest.fixture
def survey(session, state, clock, drain):
    """A survey about one worker, rated by three peers and their supervisor."""
    boss, (subject, *peers) = make_team(session, workers=4)
    spec = SurveySpec("一班互评", QUESTIONS, [subject.employee_no], "peers+supervisor",
                      clock.now() + timedelta(days=7))  # fmt: skip
    created, _ = create_survey(session, spec, now=clock.now(), signer=state.signer)
    session.commit()
    drain()
    return created, subject, [*peers, boss]


def _rate(client, session, drain, rater, score, text):
    press(client, rater, button(last_card(session, rater, "360 评价 · "), str(score)))
    drain()
    say(client, rater, text)
    drain()


def test_surveys_show_progress_and_results_only_once_three_raters_finished(
    signed_in, session, drain, survey
):
    created, subject, raters = survey
    for rater, score, text in zip(raters[:2], (4, 5), COMMENTS, strict=False):
        _rate(signed_in, session, drain, rater, score, text)
    listing = signed_in.get("/console/surveys/").get_data(as_text=True)
    assert "一班互评" in listing and "2/4 人次已答完" in listing and "已出结果 0/1 人" in listing
    results = signed_in.get(f"/console/surveys/{created.id}").get_data(as_text=True)
    assert "已答完 2/4 人" in results and "暂不显示结果" in results
    assert not any(comment in results for comment in COMMENTS)

    _rate(signed_in, session, drain, raters[2], 3, COMMENTS[2])
    results = signed_in.get(f"/console/surveys/{created.id}").get_data(as_text=True)
    assert "结果按 3 人汇总" in results and "平均 <b>4.0</b>" in results
    assert all(comment in results for comment in COMMENTS)
    listing = signed_in.get("/console/surveys/").get_data(as_text=True)
    for page in (results, listing):  # anonymity: nobody who rated is named, answered or not
        for rater in raters:
            assert rater.employee_no not in page and not re.search(rf"{rater.name}(?!\d)", page)
    assert subject.name in results


def test_closing_a_survey_withdraws_its_waiting_cards_and_is_audited(
    signed_in, session, drain, survey, hr
):
    created, _subject, raters = survey
    response = post_form(signed_in, "/console/surveys/", f"/console/surveys/{created.id}/close",
                         {})  # fmt: skip

    assert response.status_code == 302
    session.commit()  # end the read snapshot: see what the app committed
    assert session.scalar(select(Survey.state).where(Survey.id == created.id)) == "closed"
    (entry,) = _audits(session, "survey.close")
    assert (entry.actor_id, entry.object_id, entry.detail["withdrawn"]) == (
        hr.id, str(created.id), 4
    )  # fmt: skip
    page = signed_in.get("/console/surveys/").get_data(as_text=True)
    assert f"已关闭问卷 #{created.id}：收回 4 道待答题目" in page and "确认关闭" not in page
    drain()
    assert last_card(session, raters[0], "360 评价 · ").status == survey_texts.CLOSED_STATUS
    again = post_form(signed_in, "/console/surveys/", f"/console/surveys/{created.id}/close", {})
    assert "已经关闭" in signed_in.get(again.headers["Location"]).get_data(as_text=True)
    assert len(_audits(session, "survey.close")) == 1


def test_closing_a_survey_without_its_csrf_token_is_refused(signed_in, session, survey):
    created = survey[0]
    assert signed_in.post(f"/console/surveys/{created.id}/close").status_code == 400
    session.commit()  # end the read snapshot: see what the app committed
    assert session.scalar(select(Survey.state).where(Survey.id == created.id)) == "open"
    assert _audits(session, "survey.close") == []


# -- who may see them --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/console/appeals/", "/console/broadcasts/",
                                  "/console/surveys/"])  # fmt: skip
def test_someone_who_is_a_worker_now_gets_403(client, session, drain, hr, path):
    sign_in(client, session, drain, hr)
    assert client.get(path).status_code == 200
    hr.role = Role.WORKER
    session.commit()
    assert client.get(path).status_code == 403
    token = csrf_of(client.get("/console/login"))
    assert client.post("/console/appeals/evidence.zip",
                       data={"csrf": token, "employee_no": hr.employee_no}).status_code == 403  # fmt: skip
    assert session.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "evidence.export")) == 0  # fmt: skip
