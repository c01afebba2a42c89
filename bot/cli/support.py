"""Shared plumbing for CLI commands: configuration, a session and the clock."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Config, load_config
from bot.db import make_engine, make_session_factory, session_scope, upgrade
from bot.errors import ConfigError, UpgradeRefused
from bot.services.csvfile import ImportReport


def cli_config() -> Config:
    """Load the configuration or stop with its one-line error."""
    try:
        return load_config()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@contextmanager
def cli_session() -> Iterator[tuple[Session, Clock]]:
    """A session on DATABASE_URL that commits on success, with the real clock."""
    config = cli_config()
    engine = make_engine(config.database_url)
    try:
        factory = make_session_factory(engine, ledger_key=config.ledger_key)
        with session_scope(factory) as session:
            yield session, Clock()
    finally:
        engine.dispose()


def cli_upgrade(config: Config, *, rekey_broken: bool = False) -> None:
    """Apply migrations (with the ledger key, which migration 0009 may need), or stop with
    the refusing migration's one-line reason."""
    try:
        upgrade(config.database_url, ledger_key=config.ledger_key, rekey_broken=rekey_broken)
    except (UpgradeRefused, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def read_csv_text(path: Path) -> str:
    """The file's text (UTF-8, optional BOM). Raises: click.ClickException when not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        # Chinese Excel's plain "CSV" is GB18030; HR must pick "CSV UTF-8" when saving.
        raise click.ClickException(
            f"{path}: not UTF-8; in Excel save as 'CSV UTF-8' "
            f"(文件不是 UTF-8 编码，请在 Excel 中另存为「CSV UTF-8」)"
        ) from None


def finish_import(report: ImportReport) -> None:
    """Print an import's report; exit 1 when any row was rejected."""
    click.echo(report.summary())
    if report.rejected:
        click.get_current_context().exit(1)
