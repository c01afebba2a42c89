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


def test_import_org_reports_rejected_lines_and_is_idempotent(run, tmp_path, session):
    path = tmp_path / "org.csv"
    path.write_text(ORG, encoding="utf-8")
    first = run("import-org", str(path))
    assert first.exit_code == 1
    assert "line 4:" in first.output and "line 5:" in first.output
    assert session.scalar(select(func.count(Employee.id))) == 2
    again = run("import-org", str(path))
    assert "created 0, updated 0" in again.output


def test_rules_round_trip_and_bad_file_changes_nothing(run, tmp_path, session):
    out = tmp_path / "rules.csv"
    assert run("rules", "export", str(out)).exit_code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
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
