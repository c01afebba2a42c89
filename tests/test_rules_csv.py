"""The rule catalogue (规则) as CSV: export, all-or-nothing import (design §10)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.models import Rule
from bot.services.rules_csv import COLUMNS, export_rules, import_rules, save_rule

HEADER = ",".join(COLUMNS)


def rules_csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def rule(session: Session, code: str) -> Rule | None:
    return session.scalar(select(Rule).where(Rule.code == code))


def snapshot(session: Session) -> list[tuple]:
    """Every rule's fields, to show that nothing changed."""
    return [
        tuple(getattr(r, c) for c in COLUMNS)
        for r in session.scalars(select(Rule).order_by(Rule.code))
    ]


def test_export_has_header_and_the_28_seeded_rules_by_code(session):
    rows = list(csv.reader(io.StringIO(export_rules(session))))

    assert rows[0] == COLUMNS
    assert len(rows) == 29
    assert [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])
    assert rows[1] == ["A01", "A", "20", "设备", "发现模具磨损隐患并报修", "true", "2", "5", "true"]


def test_export_writes_empty_cap_and_false(session):
    a02 = rule(session, "A02")
    a02.daily_cap, a02.active = None, False
    session.flush()

    rows = {r[0]: r for r in csv.reader(io.StringIO(export_rules(session)))}

    assert rows["A02"][5:] == ["false", "", "3", "false"]


def test_export_then_import_is_a_no_op(session):
    before = snapshot(session)

    report = import_rules(session, export_rules(session))

    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 28, [])
    assert snapshot(session) == before


def test_import_updates_and_creates_by_code(session):
    text = rules_csv(
        "A01,A,25,设备,发现模具磨损隐患并报修,true,2,5,true",
        "D01,c,3,环保,正确分类投放废料,FALSE,,,True",
    )

    report = import_rules(session, text)

    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    assert rule(session, "A01").points == 25
    d01 = rule(session, "D01")
    assert (d01.grade, d01.points, d01.category, d01.title) == ("C", 3, "环保", "正确分类投放废料")
    assert (d01.evidence_required, d01.daily_cap, d01.weekly_cap, d01.active) == (
        False,
        None,
        None,
        True,
    )


def test_rules_missing_from_file_are_left_alone(session):
    import_rules(session, rules_csv("A01,A,25,设备,发现模具磨损隐患并报修,true,2,5,true"))

    assert len(snapshot(session)) == 28
    assert rule(session, "C06").active


def test_active_false_deactivates_rule(session):
    report = import_rules(session, rules_csv("B03,B,3,安全,劳保用品佩戴抽查合格,true,1,6,false"))

    assert report.updated == 1
    assert not rule(session, "B03").active


def test_bad_rows_are_all_reported_by_line_and_nothing_is_applied(session):
    before = snapshot(session)
    text = rules_csv(
        "A01,A,25,设备,发现模具磨损隐患并报修,true,2,5,true",
        "A02,D,15,协作,协助解决跨岗位协作障碍,false,1,3,true",
        "D01,C,3,环保,正确分类投放废料,false,,,true",
        "A03,A,0,质量,主动上报潜在质量问题,yes,3,10,true",
    )

    report = import_rules(session, text)

    assert [line for line, _ in report.rejected] == [3, 5]
    assert "grade" in report.rejected[0][1]
    assert "points" in report.rejected[1][1] and "evidence_required" in report.rejected[1][1]
    assert not report.applied
    assert (report.created, report.updated) == (0, 0)
    assert snapshot(session) == before
    assert "nothing was changed" in report.summary().splitlines()[-1]


@pytest.mark.parametrize(
    "row, words",
    [
        (",A,5,质量,无编号,true,,,true", "code is empty"),
        ("X" * 21 + ",A,5,质量,编号过长,true,,,true", "code longer"),
        ("D01,A,101,质量,分值过大,true,,,true", "points"),
        ("D01,A,-5,质量,负分,true,,,true", "points"),
        ("D01,A,2.5,质量,小数,true,,,true", "points"),
        ("D01,A,5,,无类别,true,,,true", "category"),
        ("D01,A,5,质量,,true,,,true", "title"),
        ("D01,A,5,质量,名称,true,,,", "active"),
    ],
    ids=["no-code", "long-code", "points-high", "points-negative", "points-decimal", "no-category", "no-title", "no-active"],
)  # fmt: skip
def test_invalid_field_is_rejected(session, row, words):
    report = import_rules(session, rules_csv(row))

    assert report.rejected[0][0] == 2
    assert words in report.rejected[0][1]
    assert rule(session, "D01") is None


@pytest.mark.parametrize(
    "caps, words",
    [
        ("0,", "daily_cap"),
        (",-1", "weekly_cap"),
        ("x,", "daily_cap"),
        ("1.5,", "daily_cap"),
        ("3,2", "weekly_cap 2 is below daily_cap 3"),
    ],
    ids=["zero", "negative", "text", "decimal", "weekly-below-daily"],
)
def test_bad_caps_are_rejected(session, caps, words):
    report = import_rules(session, rules_csv(f"D01,B,5,质量,名称,true,{caps},true"))

    assert report.rejected[0][0] == 2
    assert words in report.rejected[0][1]


@pytest.mark.parametrize("caps", ["2,2", "1,", ",4"], ids=["equal", "daily-only", "weekly-only"])
def test_good_caps_are_accepted(session, caps):
    report = import_rules(session, rules_csv(f"D01,B,5,质量,名称,true,{caps},true"))

    assert report.created == 1


def test_duplicate_code_names_first_line(session):
    text = rules_csv("D01,C,1,质量,一,true,,,true", "D01,C,2,质量,二,true,,,true")

    report = import_rules(session, text)

    assert report.rejected == [(3, "duplicate code D01, first on line 2 (编号重复)")]
    assert rule(session, "D01") is None


def test_bom_and_missing_column(session):
    ok = import_rules(session, "\ufeff" + export_rules(session))
    bad = import_rules(session, "code,grade,points\nA01,A,20\n")

    assert ok.unchanged == 28
    assert bad.rejected[0][0] == 1
    assert "title" in bad.rejected[0][1]
    assert not bad.applied


def test_rows_say_what_each_line_would_do_even_when_nothing_is_applied(session):
    report = import_rules(
        session,
        rules_csv(
            "A01,A,25,设备,发现模具磨损隐患并报修,true,2,5,true",
            "A02,A,15,协作,协助解决跨岗位协作障碍,false,1,3,true",
            "D01,C,3,环保,正确分类投放废料,false,,,true",
            "D02,Z,3,环保,x,false,,,true",
        ),
    )

    assert [(r.line, r.key, r.outcome) for r in report.rows] == [
        (2, "A01", "updated"),
        (3, "A02", "unchanged"),
        (4, "D01", "created"),
        (5, "D02", "rejected"),
    ]
    assert report.rows[0].detail == "points"
    assert not report.applied and rule(session, "D01") is None


def _form(**changes: str) -> dict[str, str]:
    values = dict(
        zip(
            COLUMNS,
            ["A01", "A", "20", "设备", "发现模具磨损隐患并报修", "true", "2", "5", "true"],
            strict=True,
        )
    )
    return values | changes


def test_save_rule_changes_one_rule_and_returns_what_changed(session):
    change = save_rule(session, _form(points="25", weekly_cap=""), code="A01")

    assert change.changes == {"points": (20, 25), "weekly_cap": (5, None)}
    assert (rule(session, "A01").points, rule(session, "A01").weekly_cap) == (25, None)


def test_save_rule_refuses_bad_fields_with_every_reason_and_changes_nothing(session):
    before = snapshot(session)

    with pytest.raises(InvalidInput) as refused:
        save_rule(session, _form(points="0", grade="Z"), code="A01")

    assert "grade" in refused.value.user_message and "points" in refused.value.user_message
    assert snapshot(session) == before


def test_save_rule_cannot_create_a_second_rule_with_a_code_in_use(session):
    with pytest.raises(InvalidInput, match="A01"):
        save_rule(session, _form())


def test_save_rule_keeps_the_code_of_the_rule_being_edited(session):
    save_rule(session, _form(code="Z99", title="改名"), code="A01")

    assert rule(session, "A01").title == "改名" and rule(session, "Z99") is None
