"""`python -m bot import-modules FILE.csv` (`module,owner_no`): all or nothing with errors by
line, like `rules import`; `--export` writes the owners back (design §13)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import cli
from bot.models import Employee, ModuleOwner
from bot.services.modules import export_module_owners, import_module_owners
from tests.change_support import add_module
from tests.conftest import START
from tests.factories import make_employee


@pytest.fixture
def run(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("BOT_SECRET_KEY", "c" * 32)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


@pytest.fixture
def people(session):
    return [make_employee(session, employee_no=no) for no in ("E001", "E002", "E007")]


def owners(session) -> list[tuple[str, str]]:
    session.commit()
    session.expire_all()
    rows = session.execute(
        select(ModuleOwner.module, Employee.employee_no).join(
            Employee, Employee.id == ModuleOwner.employee_id
        )
    )
    return sorted((module, number) for module, number in rows)


def test_import_sets_module_owners(run, tmp_path, session, people):
    path = tmp_path / "modules.csv"
    path.write_text("module,owner_no\n冲压模具,E001\n冲压模具,E002\n首件检验,E007\n", "utf-8")
    result = run("import-modules", str(path))
    assert result.exit_code == 0, result.output
    assert "created 3" in result.output
    assert owners(session) == [("冲压模具", "E001"), ("冲压模具", "E002"), ("首件检验", "E007")]


def test_a_bad_line_changes_nothing_and_every_error_is_reported(run, tmp_path, session, people):
    path = tmp_path / "modules.csv"
    path.write_text(
        "module,owner_no\n冲压模具,E001\n冲压模具,E999\n,E002\n冲压模具,E001\n", "utf-8"
    )
    result = run("import-modules", str(path))
    assert result.exit_code == 1
    assert "line 3: owner_no E999" in result.output
    assert "line 4: module is empty" in result.output
    assert "line 5: owner E001 of module 冲压模具 is already on line 2" in result.output
    assert "nothing was changed" in result.output
    assert owners(session) == []


def test_a_module_in_the_file_gets_exactly_its_listed_owners(session, people):
    e1, e2, e7 = people
    add_module(session, "冲压模具", e1, e2)
    add_module(session, "首件检验", e7)
    report = import_module_owners(session, "module,owner_no\n冲压模具,E002\n冲压模具,E007\n",
                                  now=START)  # fmt: skip
    assert (report.created, report.unchanged, report.removed) == (1, 1, 1)
    assert "removed 1" in report.summary()
    assert owners(session) == [("冲压模具", "E002"), ("冲压模具", "E007"), ("首件检验", "E007")]


def test_an_inactive_owner_is_refused(session, people):
    people[0].active = False
    session.commit()
    report = import_module_owners(session, "module,owner_no\n冲压模具,E001\n", now=START)
    assert not report.applied and report.rejected[0][0] == 2


def test_a_missing_column_is_refused_on_line_1(session):
    report = import_module_owners(session, "module,owner\n冲压模具,E001\n", now=START)
    assert report.rejected == [(1, "header lacks column(s) owner_no (表头缺少列)")]


def test_export_then_import_round_trips(run, tmp_path, session, people):
    add_module(session, "冲压模具", people[1], people[0])
    path = tmp_path / "out.csv"
    assert run("import-modules", "--export", str(path)).exit_code == 0
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    assert path.read_text("utf-8-sig") == "module,owner_no\n冲压模具,E001\n冲压模具,E002\n"
    result = run("import-modules", str(path))
    assert "created 0, updated 0, unchanged 2" in result.output
    assert export_module_owners(session) == path.read_text("utf-8-sig")


def test_importing_a_missing_file_is_a_usage_error(run, tmp_path):
    result = run("import-modules", str(tmp_path / "none.csv"))
    assert result.exit_code == 2 and "no such file" in result.output
