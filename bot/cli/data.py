"""HR data file commands for `python -m bot`: import-org, import-departments, rules export|import.

`bot/cli/__init__.py` attaches them to the top-level group (design §10).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from bot.cli.support import cli_config, cli_session
from bot.cli.support import finish_import as _finish
from bot.cli.support import read_csv_text as _read_csv_text
from bot.services.departments import import_departments
from bot.services.org import import_org
from bot.services.rules_csv import export_rules, import_rules

CSV_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("import-org")
@click.argument("file", type=CSV_FILE)
def import_org_command(file: Path) -> None:
    """Create or update departments and employees from an org CSV; all or nothing.

    Only the id columns of the messengers configured here are required; Chinese headers
    (工号,姓名,部门,角色,主管工号,企业微信账号,…) are accepted; unknown columns are listed.
    """
    text = _read_csv_text(file)
    platforms = list(cli_config().platforms)
    with cli_session() as (session, clock):
        report = import_org(session, text, now=clock.now(), platforms=platforms)
    _finish(report)


@click.command("import-departments")
@click.argument("file", type=CSV_FILE)
def import_departments_command(file: Path) -> None:
    """Set department group chat ids from a departments CSV."""
    text = _read_csv_text(file)
    with cli_session() as (session, _clock):
        report = import_departments(session, text)
    _finish(report)


@click.group("rules")
def rules_group() -> None:
    """The rule catalogue as a CSV spreadsheet."""


@rules_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--bom/--no-bom",
    default=True,
    show_default=True,
    help="Start with a UTF-8 BOM, so Excel shows the Chinese correctly.",
)
def rules_export_command(file: Path, bom: bool) -> None:
    """Write every rule to FILE (`-` for standard output)."""
    with cli_session() as (session, _clock):
        text = export_rules(session)
    data = ("\ufeff" if bom else "").encode() + text.encode("utf-8")
    count = sum(1 for _ in csv.reader(io.StringIO(text))) - 1
    if str(file) == "-":
        with click.open_file("-", "wb") as out:
            out.write(data)
        click.echo(f"exported {count} rules (已导出 {count} 条规则)", err=True)
        return
    file.write_bytes(data)
    click.echo(f"exported {count} rules to {file} (已导出 {count} 条规则)")


@rules_group.command("import")
@click.argument("file", type=CSV_FILE)
def rules_import_command(file: Path) -> None:
    """Create or update rules from FILE; all or nothing."""
    text = _read_csv_text(file)
    with cli_session() as (session, _clock):
        report = import_rules(session, text)
    _finish(report)
