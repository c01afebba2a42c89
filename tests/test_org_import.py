"""Org chart and department chat imports from CSV (design §10)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Department, Employee, Identity
from bot.services.departments import import_departments
from bot.services.org import import_org

HEADER = (
    "employee_no,name,department,role,supervisor_no,wecom_userid,dingtalk_userid,feishu_open_id"
)
ORG = "\n".join(
    [
        HEADER,
        "E003,王五,冲压车间/一班,worker,E002,ww,,ou_ww",
        "E002,李四,冲压车间/一班,supervisor,E001,ls,dls,",
        "E001,张三,冲压车间,admin,,zs,,",
    ]
)


def org(*rows: str, header: str = HEADER) -> str:
    """An org CSV text with the given data rows."""
    return "\n".join([header, *rows]) + "\n"


def employee(session: Session, no: str) -> Employee | None:
    return session.scalar(select(Employee).where(Employee.employee_no == no))


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_import_creates_employees_with_supervisors_in_any_order(session, clock):
    report = import_org(session, ORG, now=clock.now())

    assert (report.created, report.updated, report.unchanged, report.rejected) == (3, 0, 0, [])
    ww = employee(session, "E003")
    assert ww.name == "王五"
    assert ww.role == "worker"
    assert ww.department.path == "冲压车间/一班"
    assert ww.supervisor.employee_no == "E002"
    assert ww.supervisor.supervisor.employee_no == "E001"
    assert employee(session, "E001").supervisor is None
    assert ww.created_at == clock.now()
    assert ww.active


def test_import_creates_identity_per_nonempty_id_column(session, clock):
    import_org(session, ORG, now=clock.now())

    ids = {(i.platform, i.external_id) for i in employee(session, "E002").identities}
    assert ids == {("wecom", "ls"), ("dingtalk", "dls")}
    assert count(session, Identity) == 5


def test_department_ancestors_are_created(session, clock):
    import_org(session, org("E001,张三, 总装 / 二车间 /甲班 ,worker,,,,"), now=clock.now())

    depts = {d.path: d for d in session.scalars(select(Department))}
    assert set(depts) == {"总装", "总装/二车间", "总装/二车间/甲班"}
    leaf = depts["总装/二车间/甲班"]
    assert leaf.name == "甲班"
    assert leaf.parent_id == depts["总装/二车间"].id
    assert depts["总装/二车间"].parent_id == depts["总装"].id
    assert depts["总装"].parent_id is None


def test_reimport_of_same_file_changes_nothing(session, clock):
    import_org(session, ORG, now=clock.now())
    session.commit()

    report = import_org(session, ORG, now=clock.now())

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 3, [])
    assert count(session, Department) == 2
    assert count(session, Identity) == 5


def test_reimport_updates_changed_name_department_and_supervisor(session, clock):
    import_org(session, ORG, now=clock.now())
    changed = org(
        "E003,王五六,焊装车间/二班,worker,E001,ww,,ou_ww",
        "E002,李四,冲压车间/一班,supervisor,E001,ls,dls,",
        "E001,张三,冲压车间,admin,,zs,,",
    )

    report = import_org(session, changed, now=clock.now())

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    ww = employee(session, "E003")
    assert ww.name == "王五六"
    assert ww.department.path == "焊装车间/二班"
    assert ww.supervisor.employee_no == "E001"


def test_new_platform_id_replaces_the_old_one(session, clock):
    import_org(session, org("E001,张三,,worker,,zs,,"), now=clock.now())

    report = import_org(session, org("E001,张三,,worker,,zhangsan,,"), now=clock.now())

    assert report.updated == 1
    ids = [(i.platform, i.external_id) for i in employee(session, "E001").identities]
    assert ids == [("wecom", "zhangsan")]


def test_supervisor_already_in_database_is_found(session, clock):
    import_org(session, org("E001,张三,,supervisor,,,,"), now=clock.now())

    report = import_org(session, org("E009,赵六,,worker,E001,,,"), now=clock.now())

    assert report.rejected == []
    assert employee(session, "E009").supervisor.employee_no == "E001"


def test_unknown_supervisor_rejects_row(session, clock):
    report = import_org(
        session,
        org("E001,张三,,worker,,,,", "E002,李四,,worker,E404,,,"),
        now=clock.now(),
    )

    assert [line for line, _ in report.rejected] == [3]
    assert "E404" in report.rejected[0][1]
    assert not report.applied
    assert count(session, Employee) == 0


def test_row_under_a_rejected_supervisor_is_rejected(session, clock):
    report = import_org(
        session, org("E001,张三,,boss,,,,", "E002,李四,,worker,E001,,,"), now=clock.now()
    )

    assert dict(report.rejected).keys() == {2, 3}
    assert "line 2" in dict(report.rejected)[3]
    assert count(session, Employee) == 0


@pytest.mark.parametrize(
    "rows, cycle_lines",
    [
        (["E001,张三,,worker,E002,,,", "E002,李四,,worker,E001,,,"], {2, 3}),
        (["E001,张三,,worker,E001,,,"], {2}),
        (
            ["E001,张三,,worker,E002,,,", "E002,李四,,worker,E003,,,", "E003,王五,,worker,E001,,,"],
            {2, 3, 4},
        ),
    ],
    ids=["pair", "self", "three"],
)
def test_supervisor_cycle_rejects_every_row_in_it(session, clock, rows, cycle_lines):
    report = import_org(session, org(*rows, "E100,钱七,,worker,,,,"), now=clock.now())

    assert dict(report.rejected).keys() == cycle_lines
    assert all("cycle" in reason and "E001" in reason for _, reason in report.rejected)
    assert count(session, Employee) == 0


def test_cycle_through_an_employee_in_the_database_is_rejected(session, clock):
    import_org(
        session,
        org("E001,张三,,worker,,,,", "E002,李四,,worker,E001,,,"),
        now=clock.now(),
    )

    report = import_org(session, org("E001,张三,,worker,E002,,,"), now=clock.now())

    assert [line for line, _ in report.rejected] == [2]
    assert "E001 → E002 → E001" in report.rejected[0][1]
    assert employee(session, "E001").supervisor_id is None


def test_duplicate_employee_no_rejects_all_its_rows(session, clock):
    report = import_org(
        session,
        org("E001,张三,,worker,,,,", "E002,李四,,worker,,,,", "E001,张三丰,,worker,,,,"),
        now=clock.now(),
    )

    assert dict(report.rejected).keys() == {2, 4}
    assert "lines 2, 4" in report.rejected[0][1]
    assert count(session, Employee) == 0


@pytest.mark.parametrize(
    "row, words",
    [
        (",张三,,worker,,,,", "employee_no"),
        ("E001,,,worker,,,,", "name"),
        ("E001,张三,,manager,,,,", "role"),
        ("E001,张三,,worker,,,,,telegram", "preferred_platform"),
    ],
    ids=["no-number", "no-name", "bad-role", "bad-platform"],
)
def test_invalid_field_rejects_row_and_changes_nothing(session, clock, row, words):
    text = org(row, "E100,钱七,一车间,worker,,,,,", header=HEADER + ",preferred_platform")

    report = import_org(session, text, now=clock.now())

    assert [line for line, _ in report.rejected] == [2]
    assert words in report.rejected[0][1]
    assert count(session, Employee) == 0


def test_rejected_row_creates_no_department(session, clock):
    import_org(session, org("E001,张三,新车间/一班,manager,,,,"), now=clock.now())

    assert count(session, Department) == 0


def test_role_is_case_insensitive_and_defaults_to_worker(session, clock):
    report = import_org(session, org("E001,张三,,HR,,,,", "E002,李四,,,,,,"), now=clock.now())

    assert report.rejected == []
    assert employee(session, "E001").role == "hr"
    assert employee(session, "E002").role == "worker"


def test_platform_id_of_another_employee_rejects_row(session, clock):
    import_org(session, org("E001,张三,,worker,,zs,,"), now=clock.now())

    report = import_org(session, org("E002,李四,,worker,,zs,,"), now=clock.now())

    assert [line for line, _ in report.rejected] == [2]
    assert "zs" in report.rejected[0][1] and "E001" in report.rejected[0][1]
    assert employee(session, "E002") is None


def test_platform_id_on_two_rows_rejects_both(session, clock):
    report = import_org(
        session,
        org("E001,张三,,worker,,,d1,", "E002,李四,,worker,,,d1,"),
        now=clock.now(),
    )

    assert dict(report.rejected).keys() == {2, 3}
    assert count(session, Identity) == 0


def test_bom_file_is_read(session, clock):
    report = import_org(session, "\ufeff" + ORG, now=clock.now())

    assert report.created == 3
    assert report.rejected == []


def test_extra_columns_are_reported_and_column_order_is_free(session, clock):
    text = (
        "备注,name,employee_no,feishu_open_id,role,department,supervisor_no,"
        "dingtalk_userid,wecom_userid,工位\n"
        "新人,张三,E001,ou_zs,worker,一车间,,,zs,A-3\n"
    )

    report = import_org(session, text, now=clock.now())

    assert report.created == 1
    assert report.ignored_columns == ("备注", "工位")
    assert "备注, 工位" in report.summary().splitlines()[0]
    zs = employee(session, "E001")
    assert zs.name == "张三"
    assert zs.department.path == "一车间"
    assert {i.platform for i in zs.identities} == {"wecom", "feishu"}


def test_preferred_platform_is_set_and_kept_when_column_absent(session, clock):
    with_column = org("E001,张三,,worker,,zs,dzs,,DingTalk", header=HEADER + ",preferred_platform")
    import_org(session, with_column, now=clock.now())

    report = import_org(session, org("E001,张三,,worker,,zs,dzs,"), now=clock.now())

    assert report.unchanged == 1
    assert employee(session, "E001").preferred_platform == "dingtalk"


def test_missing_header_column_rejects_the_file(session, clock):
    text = "employee_no,name,role\nE001,张三,worker\n"

    report = import_org(session, text, now=clock.now())

    assert not report.applied
    assert report.rejected[0][0] == 1
    assert "department" in report.rejected[0][1]
    assert count(session, Employee) == 0


def test_blank_rows_are_skipped_and_line_numbers_count_them(session, clock):
    text = org("E001,张三,,worker,,,,", ",,,,,,,", "", "E002,李四,,boss,,,,")

    report = import_org(session, text, now=clock.now())

    assert [line for line, _ in report.rejected] == [5]


def test_summary_lists_rejected_lines_then_says_nothing_changed(session, clock):
    report = import_org(
        session, org("E001,张三,,worker,,,,", "E002,李四,,boss,,,,"), now=clock.now()
    )

    lines = report.summary().splitlines()
    assert lines[0].startswith("line 3: role")
    assert lines[1].startswith("nothing was changed: 1 line(s) with errors")


def test_one_bad_row_changes_nothing_and_every_row_says_what_it_would_do(session, clock):
    import_org(session, org("E001,张三,,worker,,,,"), now=clock.now())

    report = import_org(
        session,
        org("E001,张三丰,,worker,,,,", "E002,李四,,worker,E001,,,", "E003,王五,,boss,,,,"),
        now=clock.now(),
    )

    assert not report.applied
    assert [(r.line, r.key, r.outcome) for r in report.rows] == [
        (2, "E001", "updated"),
        (3, "E002", "created"),
        (4, "E003", "rejected"),
    ]
    assert report.rows[0].detail == "name" and "role" in report.rows[2].detail
    assert employee(session, "E001").name == "张三"
    assert employee(session, "E002") is None


def test_chinese_headers_and_role_words_are_accepted(session, clock):
    text = "工号,姓名,部门,角色,主管工号,企业微信账号\nS01,王建国,冲压车间,主管,,wjg\nE01,张伟,冲压车间,员工,S01,zw\n"

    report = import_org(session, text, now=clock.now(), platforms=["wecom"])

    assert (report.created, report.rejected, report.ignored_columns) == (2, [], ())
    zw = employee(session, "E01")
    assert (zw.role, zw.supervisor.employee_no) == ("worker", "S01")
    assert {(i.platform, i.external_id) for i in zw.identities} == {("wecom", "zw")}


def test_only_the_id_columns_of_platforms_in_use_are_required(session, clock):
    text = "employee_no,name,department,role,supervisor_no\nE001,张三,,worker,\n"

    assert import_org(session, text, now=clock.now()).created == 1
    refused = import_org(session, text, now=clock.now(), platforms=["feishu"])
    assert not refused.applied and "feishu_open_id" in refused.rejected[0][1]


def test_preferred_platform_may_be_its_chinese_label(session, clock):
    text = org("E001,张三,,worker,,,dzs,,钉钉", header=HEADER + ",首选平台")

    import_org(session, text, now=clock.now())

    assert employee(session, "E001").preferred_platform == "dingtalk"


DEPT_HEADER = "department,wecom_chatid,dingtalk_open_conversation_id,feishu_chat_id"


def test_import_departments_sets_chat_ids_and_creates_paths(session, clock):
    import_org(session, org("E001,张三,冲压车间,worker,,,,"), now=clock.now())
    text = f"{DEPT_HEADER}\n冲压车间,wrOgAA,cidX==,oc_1\n焊装车间/二班,,,oc_2\n"

    report = import_departments(session, text)

    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    depts = {d.path: d for d in session.scalars(select(Department))}
    assert set(depts) == {"冲压车间", "焊装车间", "焊装车间/二班"}
    stamping = depts["冲压车间"]
    assert (stamping.chat_for("wecom"), stamping.chat_for("dingtalk")) == ("wrOgAA", "cidX==")
    assert stamping.chat_for("feishu") == "oc_1"
    assert depts["焊装车间/二班"].chat_for("wecom") is None


def test_import_departments_twice_changes_nothing(session):
    text = f"\ufeff{DEPT_HEADER}\n冲压车间,wrOgAA,,\n"
    import_departments(session, text)

    report = import_departments(session, text)

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 1, [])


def test_import_departments_rejects_empty_and_duplicate_rows(session):
    text = f"{DEPT_HEADER}\n,wr1,,\n一车间,wr2,,\n一车间,wr3,,\n二车间,wr4,,\n"

    report = import_departments(session, text)

    assert dict(report.rejected).keys() == {2, 3, 4}
    assert report.created == 1
    assert [d.path for d in session.scalars(select(Department))] == ["二车间"]
