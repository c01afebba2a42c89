"""HR console pages: each backed by the service the chat and CLI use, every change audited."""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from bot.models import AuditLog, Claim, ClaimState, Employee, LedgerEntry, Role
from bot.services.ledger import append_entry
from console.pages import PAGES
from tests.conftest import START
from tests.consoleweb import csrf_of, post_form, sign_in
from tests.factories import make_department, make_employee, make_team, rule
from tests.localchat import last, say


@pytest.fixture
def hr(session):
    dept = make_department(session, "人力资源部")
    return make_employee(session, name="周敏", employee_no="H001", role=Role.HR, department=dept)


@pytest.fixture
def signed_in(client, session, drain, hr):
    sign_in(client, session, drain, hr)
    return client


def _rule_form(**changes: str) -> dict[str, str]:
    form = {"title": "发现模具磨损隐患并报修", "grade": "A", "points": "20", "category": "设备",
            "daily_cap": "2", "weekly_cap": "5", "evidence_required": "true", "active": "true"}  # fmt: skip
    return form | changes


def test_hr_changes_a_rule_and_the_audit_log_says_who_when_and_what(signed_in, session, clock, hr):
    response = post_form(
        signed_in, "/console/rules/A01", "/console/rules/A01", _rule_form(points="25")
    )

    assert response.status_code == 302
    session.commit()  # end the read snapshot: see what the app committed
    assert rule(session, "A01").points == 25
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "rule.update")).one()
    assert (entry.actor_id, entry.object_id, entry.created_at) == (hr.id, "A01", clock.now())
    assert entry.detail == {"changes": {"points": [20, 25]}}
    page = signed_in.get("/console/rules/").get_data(as_text=True)
    assert "已保存规则 A01：分值 20 → 25" in page


def test_a_bad_rule_field_is_shown_and_changes_nothing(signed_in, session):
    response = post_form(
        signed_in, "/console/rules/A01", "/console/rules/A01", _rule_form(points="0")
    )

    assert response.status_code == 200 and "points must be" in response.get_data(as_text=True)
    session.commit()  # end the read snapshot: see what the app committed
    assert rule(session, "A01").points == 20
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("rule%"))) == 0


def test_a_new_rule_can_be_added_and_is_audited(signed_in, session):
    form = _rule_form(code="D01", title="正确分类投放废料", category="环保", points="3")
    post_form(signed_in, "/console/rules/new", "/console/rules/new", form)
    session.commit()  # end the read snapshot: see what the app committed
    assert rule(session, "D01").title == "正确分类投放废料"
    assert (
        session.scalar(select(AuditLog.action).where(AuditLog.object_id == "D01")) == "rule.create"
    )


def test_rules_export_csv_starts_with_a_bom(signed_in):
    body = signed_in.get("/console/rules/export.csv").data
    assert body.startswith(b"\xef\xbb\xbfcode,grade,points")
    assert "发现模具磨损隐患并报修" in body.decode("utf-8-sig")


def test_rules_export_xlsx_opens_with_openpyxl(signed_in):
    book = load_workbook(io.BytesIO(signed_in.get("/console/rules/export.xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("code", "grade", "points") and rows[1][:3] == ("A01", "A", 20)


def _upload(client, page: str, action: str, name: str, data: bytes):
    token = csrf_of(client.get(page))
    return client.post(action, data={"csrf": token, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")  # fmt: skip


def test_a_rule_import_is_previewed_and_changes_nothing_until_confirmed(signed_in, session):
    csv_text = signed_in.get("/console/rules/export.csv").data.decode("utf-8-sig")
    edited = csv_text.replace("A01,A,20,", "A01,A,30,")
    preview = _upload(signed_in, "/console/rules/", "/console/rules/import", "rules.csv",
                      edited.encode())  # fmt: skip
    page = preview.get_data(as_text=True)
    assert "将更新 1" in page and "确认导入" in page
    session.commit()  # end the read snapshot: see what the app committed
    assert rule(session, "A01").points == 20

    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    csrf = csrf_of(preview)
    applied = signed_in.post("/console/rules/import/apply", data={"csrf": csrf, "token": token})

    assert applied.status_code == 302
    session.commit()  # end the read snapshot: see what the app committed
    assert rule(session, "A01").points == 30
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "rules.import")).one()
    assert audit.detail["updated"] == 1
    again = signed_in.post("/console/rules/import/apply", data={"csrf": csrf, "token": token})
    assert "预览已过期或已导入" in signed_in.get(again.headers["Location"]).get_data(as_text=True)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_org_xlsx_with_chinese_headers_is_previewed_row_by_row(signed_in, session):
    data = _xlsx([
        ["工号", "姓名", "部门", "角色", "主管工号", "工龄"],
        ["S100", "王建国", "冲压车间", "主管", None, 12],
        [1001, "张伟", "冲压车间/一班", "员工", "S100", 3],
        ["E002", "刘洋", "冲压车间/一班", "boss", "S100", 1],
    ])  # fmt: skip
    page = _upload(signed_in, "/console/employees/", "/console/employees/import", "org.xlsx", data)
    text = page.get_data(as_text=True)

    assert "以下列不会导入：工龄" in text
    assert text.count("将新增") >= 3 and "有错误" in text and "role must be one of" in text
    assert "确认导入" not in text
    assert (
        session.scalar(select(func.count(Employee.id)).where(Employee.employee_no == "1001")) == 0
    )


def test_an_org_import_is_applied_when_every_row_is_good(signed_in, session, hr):
    data = (
        "工号,姓名,部门,角色,主管工号\nS100,王建国,冲压车间,主管,\nE100,张伟,冲压车间,员工,S100\n"
    )
    preview = _upload(signed_in, "/console/employees/", "/console/employees/import", "org.csv",
                      data.encode("utf-8-sig"))  # fmt: skip
    token = re.search(r'name="token" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    signed_in.post(
        "/console/employees/import/apply", data={"csrf": csrf_of(preview), "token": token}
    )
    session.commit()  # end the read snapshot: see what the app committed
    zw = session.scalar(select(Employee).where(Employee.employee_no == "E100"))
    assert zw.supervisor.employee_no == "S100"
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "org.import")).one()
    assert (entry.actor_id, entry.detail["created"]) == (hr.id, 2)


def test_a_gbk_csv_is_refused_with_the_way_to_save_it(signed_in):
    data = "工号,姓名\n".encode("gb18030")
    page = _upload(signed_in, "/console/employees/", "/console/employees/import", "org.csv", data)
    assert "CSV UTF-8" in page.get_data(as_text=True)


def test_employees_export_round_trips_through_the_import(signed_in, session):
    boss, team = make_team(session)
    exported = signed_in.get("/console/employees/export.csv").data
    page = _upload(
        signed_in, "/console/employees/", "/console/employees/import", "org.csv", exported
    )
    text = page.get_data(as_text=True)
    assert "将新增 0" in text and "将更新 0" in text and "有错误 0" in text


def test_hr_approves_a_claim_from_my_asks_and_the_claimant_is_credited(client, session, drain, hr):
    supervisor = make_employee(session, name="王建国", role=Role.SUPERVISOR, supervisor=hr)
    say(client, supervisor, "申领 A02 帮二班调试送料机")
    drain()
    sign_in(client, session, drain, hr)
    page = client.get("/console/tasks/").get_data(as_text=True)
    assert "待审核申领 #" in page and "通过" in page
    ask_id = re.search(r'action="/console/tasks/(\d+)"', page).group(1)

    response = post_form(
        client, "/console/tasks/", f"/console/tasks/{ask_id}", {"choice": "approve"}
    )
    drain()

    assert response.status_code == 302
    claim = session.scalars(select(Claim)).one()
    assert claim.state == ClaimState.APPROVED and claim.decided_by_id == hr.id
    assert session.scalar(select(func.sum(LedgerEntry.points))) == claim.points_credited
    assert "申领通过" in last(session, supervisor).text
    assert "已通过 #" in client.get("/console/tasks/").get_data(as_text=True)


def test_rejecting_from_my_asks_needs_a_reason(client, session, drain, hr):
    supervisor = make_employee(session, role=Role.SUPERVISOR, supervisor=hr)
    say(client, supervisor, "申领 A02")
    drain()
    sign_in(client, session, drain, hr)
    ask_id = re.search(
        r'action="/console/tasks/(\d+)"', client.get("/console/tasks/").get_data(as_text=True)
    ).group(1)

    post_form(
        client, "/console/tasks/", f"/console/tasks/{ask_id}", {"choice": "reject", "text": ""}
    )
    assert "请回复文字说明" in client.get("/console/tasks/").get_data(as_text=True)
    post_form(client, "/console/tasks/", f"/console/tasks/{ask_id}",
              {"choice": "reject", "reason": "不符合规则"})  # fmt: skip
    session.commit()  # end the read snapshot: see what the app committed
    claim = session.scalars(select(Claim)).one()
    assert (claim.state, claim.reason) == (ClaimState.REJECTED, "不符合规则")


def test_an_ask_for_someone_else_cannot_be_answered_here(client, session, drain, hr):
    boss, (worker, _) = make_team(session)
    say(client, worker, "申领 A02")
    drain()
    sign_in(client, session, drain, hr)
    from bot.models import Ask

    ask = session.scalars(select(Ask)).one()
    response = post_form(
        client, "/console/tasks/", f"/console/tasks/{ask.id}", {"choice": "approve"}
    )
    assert response.status_code == 403
    session.commit()  # end the read snapshot: see what the app committed
    assert session.scalars(select(Claim)).one().state == ClaimState.PENDING


def test_overview_shows_participation_points_and_open_asks(client, session, drain, hr):
    boss, (a, b) = make_team(session)
    append_entry(session, a, 20, kind="claim", memo="A01", now=START)
    session.commit()
    say(client, b, "申领 A02")
    drain()
    sign_in(client, session, drain, hr)
    page = client.get("/console/").get_data(as_text=True)
    assert "33.3%" in page  # 1 of 3 frontline people earned points this week
    assert "申领审批" in page and "<svg" in page


def test_points_report_is_an_xlsx_with_each_employee(client, session, drain, hr):
    boss, (a, _) = make_team(session)
    append_entry(session, a, 15, kind="claim", memo="A02", now=START)
    session.commit()
    sign_in(client, session, drain, hr)
    response = client.get("/console/reports/points.xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[0] == "本月·员工"
    rows = {r[0]: r for r in book["本月·员工"].iter_rows(min_row=2, values_only=True)}
    assert rows[a.employee_no][4:] == (15, 0, 15)


def test_every_nav_link_answers_and_no_page_is_a_placeholder(signed_in):
    for page in PAGES:
        response = signed_in.get(f"/console/{page.slug}/" if page.slug else "/console/")
        assert response.status_code == 200, page.title
        assert "即将上线" not in response.get_data(as_text=True), page.title


def test_the_audit_page_lists_changes_newest_first(signed_in, session):
    post_form(signed_in, "/console/rules/A01", "/console/rules/A01", _rule_form(points="21"))
    page = signed_in.get("/console/audit/?kind=rule").get_data(as_text=True)
    assert "修改规则" in page and "周敏（H001）" in page and "登录控制台" not in page


def test_an_unknown_console_path_answers_in_chinese(signed_in):
    response = signed_in.get("/console/nowhere")
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)


def test_every_kind_of_ask_has_a_chinese_name_in_the_console(signed_in):
    """HR never reads an internal kind code (redemption_approval) on 我的待办 or the overview."""
    from bot.asks.kinds import KINDS
    from console.labels import ASK_KINDS, ask_kind

    # The product's kinds; other test modules register kinds of their own (test_steps, …).
    tests_dir = Path(__file__).resolve().parent
    product = {k for k, kind in KINDS.items()
               if Path(inspect.getfile(kind.on_answer)).resolve().parent != tests_dir}  # fmt: skip
    assert product, "the app registers its ask kinds"
    unnamed = sorted(k for k in product if not re.search(r"[\u4e00-\u9fff]", ask_kind(k)))
    assert unnamed == [], unnamed
    assert set(ASK_KINDS) >= product


def test_an_id_past_the_databases_range_is_the_consoles_404(signed_in):
    for path in ("/console/surveys/99999999999999999999", "/console/evidence/99999999999999999999"):
        response = signed_in.get(path)
        assert response.status_code == 404, path
        assert "Internal Server Error" not in response.get_data(as_text=True)
