"""Shared plumbing for CLI commands: configuration, a session and the clock."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.config import Config, load_config
from bot.db import make_engine, make_session_factory, session_scope
from bot.errors import ConfigError


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
        with session_scope(make_session_factory(engine)) as session:
            yield session, Clock()
    finally:
        engine.dispose()
