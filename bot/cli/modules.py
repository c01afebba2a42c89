"""`python -m bot import-modules FILE.csv` (`module,owner_no`) and `import-modules --export
FILE.csv`: who owns which module, so a change naming a module reaches its owners (design §13)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from bot.cli.support import cli_session, finish_import, read_csv_text
from bot.services.modules import export_module_owners, import_module_owners


@click.command("import-modules")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--export", "export", is_flag=True, help="Write the current module owners to FILE instead."
)
def import_modules_command(file: Path, export: bool) -> None:
    """Set module owners from FILE (all or nothing, errors by line), or --export them to it."""
    if export:
        with cli_session() as (session, _clock):
            text = export_module_owners(session)
        # With a BOM, so Excel shows the Chinese module names (design §16); import accepts it.
        with file.open("w", encoding="utf-8-sig", newline="") as out:
            out.write(text)
        count = sum(1 for _ in csv.reader(io.StringIO(text))) - 1
        click.echo(f"exported {count} module owners to {file} (已导出 {count} 条模块负责人)")
        return
    if not file.is_file():
        raise click.BadParameter(f"{file}: no such file", param_hint="FILE")
    text = read_csv_text(file)
    with cli_session() as (session, clock):
        report = import_module_owners(session, text, now=clock.now())
    finish_import(report)
