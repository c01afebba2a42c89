"""Shared plumbing for CLI commands: configuration, a session and the clock."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Config, load_config
from bot.db import make_engine, make_session_factory, session_scope, upgrade
from bot.errors import ConfigError, UpgradeRefused


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
