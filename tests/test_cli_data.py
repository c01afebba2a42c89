"""HR's files through the real command line: import-org, rules export/import."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from bot.models import Employee, Rule

ORG = """employee_no,name,department,role,supervisor_no,wecom_userid,dingtalk_userid,feishu_open_id
S1,王建国,冲压车间,supervisor,,wang,,
E1,张伟,冲压车间/一班,worker,S1,zhangwei,,ou_1
E2,刘洋,冲压车间/一班,boss,S1,,,
E3,陈磊,冲压车间/一班,worker,S9,,,
"""


@pytest.fixture
def run(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("BOT_SECRET_KEY", "c" * 32)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


def test_import_org_reports_rejected_lines_and_changes_nothing(run, tmp_path, session):
    path = tmp_path / "org.csv"
    path.write_text(ORG, encoding="utf-8")
    first = run("import-org", str(path))
    assert first.exit_code == 1
    assert "line 4:" in first.output and "line 5:" in first.output
    assert "nothing was changed" in first.output
    assert session.scalar(select(func.count(Employee.id))) == 0


def test_import_org_is_idempotent(run, tmp_path, session):
    path = tmp_path / "org.csv"
    path.write_text("\n".join(ORG.splitlines()[:3]) + "\n", encoding="utf-8")
    assert "created 2, updated 0" in run("import-org", str(path)).output
    again = run("import-org", str(path))
    assert again.exit_code == 0 and "created 0, updated 0, unchanged 2" in again.output


def test_rules_round_trip_and_bad_file_changes_nothing(run, tmp_path, session):
    out = tmp_path / "rules.csv"
    assert run("rules", "export", str(out)).exit_code == 0
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert (
        lines[0] == "code,grade,points,category,title,evidence_required,daily_cap,weekly_cap,active"
    )
    assert len(lines) == 29
    bad = tmp_path / "bad.csv"
    bad.write_text(
        lines[0]
        + "\nA01,A,25,设备,发现模具磨损隐患并报修,true,2,5,true\nX1,D,5,安全,x,maybe,,,true\n",
        encoding="utf-8",
    )
    result = run("rules", "import", str(bad))
    assert result.exit_code == 1 and "line 3:" in result.output
    session.expire_all()
    assert session.scalar(select(Rule.points).where(Rule.code == "A01")) == 20


def test_rules_export_starts_with_a_bom_so_excel_reads_chinese(run, tmp_path):
    out = tmp_path / "rules.csv"
    assert run("rules", "export", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfcode,grade,points")


def test_rules_export_dash_writes_the_csv_to_stdout(run):
    result = run("rules", "export", "-", "--no-bom")
    assert result.exit_code == 0, repr(result.exception)
    assert result.stdout.startswith("code,grade,points,category,title")
    assert len(result.stdout.splitlines()) == 29
    assert "exported 28 rules" in result.stderr


def test_import_org_without_messengers_needs_no_id_column_and_lists_extras(run, tmp_path):
    path = tmp_path / "org.csv"
    path.write_text(
        "工号,姓名,部门,角色,主管工号,备注\nE1,张伟,冲压车间,员工,,新人\n", encoding="utf-8"
    )
    result = run("import-org", str(path))
    assert result.exit_code == 0, repr(result.exception)
    assert "备注" in result.output and "created 1" in result.output
