"""Engine, sessions and migrations. The caller (request, job, CLI) owns the session and commits once."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, make_url, text
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
LEDGER_KEY_INFO = "ledger_key"  # Session.info key of BOT_LEDGER_KEY (bot/services/chain.py)

# One lock per SQLite file per process. Writers queue on it instead of inside SQLite, whose
# busy handler polls with sleeps of up to 100 ms: under concurrent callbacks that alone pushed
# the acknowledgement p99 past the platforms' comfort (bench/callbacks.py).
_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


class _LockingConnection(sqlite3.Connection):
    """A pysqlite connection that releases its file's write lock when its transaction ends."""

    bot_lock: threading.RLock | None = None
    # How this connection opens a write transaction (the engine's begin hook, for raw use).
    bot_begin: Callable[[Any], None] | None = None

    def _release(self) -> None:
        lock, self.bot_lock = self.bot_lock, None
        if lock is not None:
            lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()


def _file_lock(path: str) -> threading.RLock:
    key = str(Path(path).resolve())
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(key, threading.RLock())


def make_engine(url: str, *, immediate: bool = True, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout.

    With `immediate`, SQLite transactions take the write lock at BEGIN, so two writers queue on
    the busy timeout instead of one failing when it upgrades a read lock. Read-only observers
    (the test suite's own session) pass False so an open read never blocks the app.

    Statement parameters never reach a log or an error message (`hide_parameters`): they
    carry what people wrote, tokens and anonymous answers (style §5, design §14).
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path == ":memory:":
            path = ""
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {"timeout": 30, "check_same_thread": False}
        lock = None
        if immediate and path:
            connect_args["factory"] = _LockingConnection
            lock = _file_lock(path)
        if path:
            # LIFO: the connection used last is the one whose page cache is still current.
            kwargs.setdefault("pool_use_lifo", True)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit off at the driver level; we issue BEGIN IMMEDIATE ourselves so that
            # concurrent writers queue on the busy timeout instead of failing on upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            if isinstance(dbapi_conn, _LockingConnection):
                dbapi_conn.bot_begin = begin_sqlite

        def begin_sqlite(dbapi_conn: Any) -> None:
            if lock is not None:
                lock.acquire()
                dbapi_conn.bot_lock = lock
            try:
                # Straight to the driver: this runs once per transaction, on the callback path.
                dbapi_conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            except BaseException:
                if lock is not None:
                    dbapi_conn._release()
                raise

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            begin_sqlite(conn.connection.dbapi_connection)

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


@contextmanager
def dbapi_transaction(engine: Engine) -> Iterator[Any]:
    """A DBAPI cursor inside one transaction, committed on success, for the rare statement
    whose SQLAlchemy execution overhead matters (the callback acknowledgement's insert).

    On SQLite it takes the same file lock and BEGIN IMMEDIATE as every other transaction.
    Driver errors, connecting included, come out as SQLAlchemy's exceptions, as they do for
    every other statement; a lost connection is dropped from the pool.
    """
    error = engine.dialect.loaded_dbapi.Error
    raw = None
    try:
        raw = engine.raw_connection()
        dbapi_conn = raw.driver_connection
        begin = getattr(dbapi_conn, "bot_begin", None)
        if begin is not None:
            begin(dbapi_conn)
        elif engine.dialect.name == "sqlite":
            dbapi_conn.execute("BEGIN")  # an in-memory database: no file lock to take
        cursor = dbapi_conn.cursor()
        try:
            yield cursor
            dbapi_conn.commit()
        except BaseException:
            dbapi_conn.rollback()
            raise
        finally:
            cursor.close()
    except error as exc:
        lost = raw is not None and engine.dialect.is_disconnect(exc, raw.dbapi_connection, None)
        if lost:
            raw.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, error, dialect=engine.dialect, connection_invalidated=lost
        ) from exc
    finally:
        if raw is not None:
            raw.close()


# The largest id a row key holds (PostgreSQL's integer): what a URL or API path may name
# before the database would fail on the value.
ROW_ID_MAX = 2**31 - 1


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database is away or overloaded (restarting, unreachable, out of
    connections, a connection cut mid-statement, SQLite locked), not that a statement is wrong:
    the request may succeed if made again later."""
    if isinstance(exc, OperationalError) and _is_sqlite_error(exc):
        # SQLite raises OperationalError for mistakes too (no such table, a syntax error):
        # those are bugs, answered 500 with their traceback as on PostgreSQL.
        message = str(getattr(exc, "orig", exc)).lower()
        return any(sign in message for sign in _SQLITE_AWAY)
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


# What SQLite says when the file is busy or out of reach, rather than a statement wrong.
_SQLITE_AWAY = ("database is locked", "database is busy", "unable to open", "disk i/o error",
                "database or disk is full", "readonly database")  # fmt: skip


def _is_sqlite_error(exc: OperationalError) -> bool:
    return type(getattr(exc, "orig", None)).__module__ == "sqlite3"


def unavailable_reason(exc: SQLAlchemyError) -> str:
    """One short line naming the failure for a log: the driver's error class and the first line
    of its message (the server's text; never the statement or its parameters)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines() or [""]
    return f"{type(orig).__name__}: {lines[0][:200]}"


def make_session_factory(engine: Engine, *, ledger_key: str | None = None) -> sessionmaker[Session]:
    """A sessionmaker that keeps objects usable after commit.

    `ledger_key` (BOT_LEDGER_KEY) rides in each session's `info`, where the ledger finds it to
    hash appended entries: every writer of the ledger gets it from its session, so no call
    site has to pass a secret along.
    """
    info = {LEDGER_KEY_INFO: ledger_key} if ledger_key else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    """An Alembic Config pointing at migrations/ and the given database."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(
    url: str, revision: str = "head", *, ledger_key: str | None = None, rekey_broken: bool = False
) -> None:
    """Apply migrations up to `revision`.

    `ledger_key` is needed when migration 0009 finds entries the previous release chained
    without a key (it re-hashes them under the key); `rekey_broken` lets it do so even when
    that unkeyed chain is broken, recording the problems.

    Raises:
        UpgradeRefused: a migration found data it will not change (the message says what to do).
    """
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["ledger_key"] = ledger_key
    cfg.attributes["rekey_broken"] = rekey_broken
    command.upgrade(cfg, revision)


def current_and_head(engine: Engine) -> tuple[str | None, str | None]:
    """The database's migration revision and the code's head revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, script.get_current_head()


def bulk_insert(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of `model` in the session's transaction: one executemany, or COPY …
    FROM STDIN on PostgreSQL (a thousand alerts are one COPY stream instead of a thousand
    INSERT round trips, bench/escalation.py).

    For COPY, values are converted as the column types would: aware datetimes to naive UTC
    (UTCDateTime), dicts and lists to JSON text. Rows often share `now` and a payload, so each
    distinct object is converted once.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        _executemany(session, model, rows)
        return
    memo: dict[int, object] = {}

    def convert(value: object) -> object:
        if not isinstance(value, datetime | dict | list):
            return value
        key = id(value)
        if key not in memo:
            memo[key] = (
                value.astimezone(UTC).replace(tzinfo=None)
                if isinstance(value, datetime)
                else json.dumps(value, ensure_ascii=False)
            )
        return memo[key]

    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    sql = f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([convert(row[c]) for c in columns])


def _executemany(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """One driver executemany of an INSERT (SQLite's qmark style), each distinct value object
    converted by its column type once (10,000 rows sharing a JSON payload encode it once)."""
    table = model.__table__  # type: ignore[attr-defined]
    columns = list(rows[0])
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    # Only the given columns, as COPY does: the rest take their server defaults or NULL.
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    columns_out: list[list[object]] = []
    for column in columns:
        values = [row[column] for row in rows]
        process = table.c[column].type._cached_bind_processor(dialect)
        if process is not None:
            memo: dict[int, object] = {}
            converted: list[object] = []
            for value in values:
                if value is None:
                    converted.append(None)
                    continue
                key = id(value)  # rows keep every value alive: ids stay unique meanwhile
                if key not in memo:
                    memo[key] = process(value)
                converted.append(memo[key])
            values = converted
        columns_out.append(values)
    params = list(zip(*columns_out, strict=True))
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


def insert_returning_ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows of `model` (a table with an integer `id` from a sequence) and return their
    new ids, in order: on PostgreSQL the ids are drawn from the table's sequence first and the
    rows go in by COPY (bulk_insert); elsewhere one batched INSERT … RETURNING.

    A multi-row INSERT of 500 asks has 13,000 parameters, and psycopg's client-side parsing
    of such a statement alone took longer than the COPY (bench/changes.py).
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        returning = insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(session.scalars(returning, rows))
    table = model.__tablename__
    ids = list(
        session.scalars(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"
            ),
            {"n": len(rows)},
        )
    )
    bulk_insert(
        session, model, [{"id": new_id, **row} for new_id, row in zip(ids, rows, strict=True)]
    )
    return ids
