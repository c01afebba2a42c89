"""Fixtures in the Flask tutorial's shape: app (fresh migrated DB) → client, runner, session.

Every database test runs on SQLite and, when TEST_DATABASE_URL is reachable, on PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import MetaData, create_engine, insert, inspect, make_url, text
from sqlalchemy.orm import Session

from bot.app import BotState, bot_state, create_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.db import make_engine, make_session_factory, upgrade

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
# A Thursday morning in the factory's time zone.
START = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
SECRET = "test-secret-key-0123456789abcdef"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
_pg_problem: str | None = None


def _pg_reason() -> str | None:
    """Why PostgreSQL tests are skipped, or None when the server answers."""
    if not PG_URL:
        return "TEST_DATABASE_URL is not set: PostgreSQL variants skipped"
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any connection problem means: skip, and say why
        return (
            f"PostgreSQL at TEST_DATABASE_URL unreachable ({type(exc).__name__}): variants skipped"
        )
    return None


def pytest_report_header(config: Any) -> str:
    """Say up front whether the PostgreSQL variants run."""
    global _pg_problem
    _pg_problem = _pg_reason()
    return _pg_problem or f"PostgreSQL variants: on ({PG_URL.split('@')[-1]})"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (migrations are the only schema source)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A private database for this run (concurrent runs on one server never collide)."""
    reason = _pg_problem if _pg_problem is not None else _pg_reason()
    if reason:
        pytest.skip(reason)
    name = f"bot_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_snapshot(pg_database: str) -> dict[str, list[dict[str, Any]]]:
    """Migrate the private PostgreSQL database once; remember the seeded rows."""
    upgrade(pg_database)
    engine = create_engine(pg_database)
    snapshot: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            if table != "alembic_version":
                snapshot[table] = [
                    dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{table}"'))
                ]
    engine.dispose()
    return snapshot


def _reset_pg(url: str, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    """Empty every table and put back the rows the migrations seeded."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        for table in tables:
            rows = snapshot.get(table.name)
            if rows:
                conn.execute(insert(table), rows)
                if "id" in table.c and table.c.id.autoincrement is not False:
                    # Explicit ids do not advance the sequence TRUNCATE just restarted.
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f'(SELECT max(id) FROM "{table.name}"))'
                        )
                    )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated database for one test."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "bot.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    snapshot = request.getfixturevalue("pg_snapshot")
    url = request.getfixturevalue("pg_database")
    _reset_pg(url, snapshot)
    return url


@pytest.fixture
def clock() -> FixedClock:
    """The injected clock; tests move it with clock.advance(minutes=…)."""
    return FixedClock(START)


@pytest.fixture
def platform_env() -> dict[str, str]:
    """Extra environment for the app (platform tests override this)."""
    return {}


@pytest.fixture
def app(
    db_url: str, tmp_path: Path, clock: FixedClock, platform_env: dict[str, str]
) -> Iterator[Flask]:
    """The real app on a fresh database, with the fixed clock."""
    env = {
        "DATABASE_URL": db_url,
        "BOT_SECRET_KEY": SECRET,
        "BOT_MEDIA_DIR": str(tmp_path / "media"),
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_ENV": "test",
        # Most tests approve A01 (+20) in one step; tests of the second approval (design §15)
        # set the default 20 back through `platform_env`.
        "BOT_SECOND_APPROVAL_POINTS": "100",
        **platform_env,
    }
    config = load_config(env)
    engine = make_engine(db_url)
    app = create_app({"CONFIG": config, "CLOCK": clock, "ENGINE": engine})
    app.testing = True
    yield app
    engine.dispose()


@pytest.fixture
def state(app: Flask) -> BotState:
    """The app's BotState (config, sessions, adapters, worker)."""
    return bot_state(app)


@pytest.fixture
def run_cli(state: BotState, tmp_path: Path) -> Any:
    """`python -m bot …` against the app's database: (exit code, output)."""
    from click.testing import CliRunner

    from bot.cli import cli

    env = {"DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
           "BOT_SECRET_KEY": SECRET, "BOT_VAR_DIR": str(tmp_path / "var"),
           "BOT_MEDIA_DIR": str(state.config.media_dir), "BOT_ENV": "test"}  # fmt: skip

    def _run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=env)
        return result.exit_code, result.output

    return _run


@pytest.fixture
def session(state: BotState) -> Iterator[Session]:
    """A session for arranging and asserting; factories commit through it.

    It has its own engine whose SQLite transactions begin deferred, so a read left open by an
    assertion never holds the write lock the app under test needs.
    """
    engine = make_engine(
        str(state.engine.url.render_as_string(hide_password=False)), immediate=False
    )
    s = make_session_factory(engine, ledger_key=state.config.ledger_key)()
    yield s
    s.rollback()
    s.close()
    engine.dispose()


@pytest.fixture
def client(app: Flask) -> Any:
    """Flask test client."""
    return app.test_client()


@pytest.fixture
def drain(state: BotState, session: Session) -> Any:
    """Run the worker until nothing is due, then refresh the test session's view."""

    def _drain() -> None:
        session.commit()
        state.worker.drain()
        session.expire_all()

    return _drain


@pytest.fixture(autouse=True)
def _no_leaked_app_context() -> Iterator[None]:
    """Fail a test that leaves an app context pushed (Flask's own conftest habit)."""
    from flask import has_app_context

    yield
    assert not has_app_context(), "a test leaked an app context"
