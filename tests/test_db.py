"""The database plumbing under the callback path: the raw-cursor insert, its transaction and
the SQLite write lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot.db import _file_lock, dbapi_transaction, is_unavailable, make_engine, upgrade
from bot.models import InboundEvent
from bot.ports import Event, EventKind


def _event(key: str) -> Event:
    return Event(
        kind=EventKind.TEXT,
        platform="wecom",
        sender_id="u1",
        dedupe_key=key,
        text="积分",
        received_at=datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
        reply_to={"user_id": "u1"},
    )


def test_raw_transaction_holds_the_sqlite_write_lock(tmp_path):
    path = tmp_path / "bot.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    lock = _file_lock(str(path))
    seen: list[bool] = []

    def other_thread_tries() -> None:
        got = lock.acquire(blocking=False)
        seen.append(got)
        if got:
            lock.release()

    for _ in range(2):  # and again on a new connection after the pool is replaced
        with dbapi_transaction(engine) as cursor:
            assert cursor.connection.in_transaction
            probe = threading.Thread(target=other_thread_tries)
            probe.start()
            probe.join()
        other_thread_tries()  # released after commit
        engine.dispose()
    assert seen == [False, True, False, True]


def test_raw_transaction_on_an_engine_with_options_takes_the_lock_too(tmp_path):
    path = tmp_path / "bot.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url).execution_options(logging_token="callbacks")
    seen: list[bool] = []
    with dbapi_transaction(engine) as cursor:
        assert cursor.connection.in_transaction
        probe = threading.Thread(target=lambda: seen.append(_file_lock(str(path)).acquire(False)))
        probe.start()
        probe.join()
    assert seen == [False]


def test_connect_failure_is_a_sqlalchemy_error(tmp_path):
    """Every route answers 503 when the database is unavailable (bot/app.py); a database that
    cannot even be opened (here: the path is a directory) must surface as SQLAlchemy's
    OperationalError there too, not as the driver's own error."""
    from bot.services.inbound import accept_inbound

    engine = make_engine(f"sqlite:///{tmp_path}")
    with pytest.raises(OperationalError):
        accept_inbound(engine, _event("msg:1"))


def test_callbacks_arriving_together_share_one_transaction(tmp_path):
    from bot.services import inbound

    path = tmp_path / "bot.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    statements: list[str] = []

    @event.listens_for(engine, "connect")
    def _trace(dbapi_conn, _record):
        dbapi_conn.set_trace_callback(statements.append)

    group = inbound._group_for(engine)
    results: list[tuple[str, bool]] = []

    def deliver(key: str) -> None:
        results.append((key, inbound.accept_inbound(engine, _event(key))))

    lock = _file_lock(str(path))
    lock.acquire()  # someone else is writing: the first callback waits at BEGIN
    try:
        first = threading.Thread(target=deliver, args=("msg:a",))
        first.start()
        with group._mutex:  # the first caller leads a group of one
            assert group._mutex.wait_for(lambda: group._leading and not group._queue, 10)
        later = [threading.Thread(target=deliver, args=(k,)) for k in ("msg:b", "msg:c", "msg:b")]
        for thread in later:
            thread.start()
        with group._mutex:  # three more queue behind it
            assert group._mutex.wait_for(lambda: len(group._queue) == 3, 10)
    finally:
        lock.release()
    for thread in [first, *later]:
        thread.join()
    assert sorted(results) == [("msg:a", True), ("msg:b", False), ("msg:b", True), ("msg:c", True)]
    assert statements.count("BEGIN IMMEDIATE") == 2 and statements.count("COMMIT") == 2
    assert not group._leading and not group._queue
    engine.dispose()


def test_one_bad_row_fails_only_its_own_caller(tmp_path):
    """A group that rolls back is written again row by row: the callers grouped with a bad
    row by chance are recorded, and only the bad row's caller gets an error."""
    from bot.services import inbound

    path = tmp_path / "bot.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER poison BEFORE INSERT ON inbound_events"
            " WHEN NEW.dedupe_key = 'msg:bad' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    group = inbound._group_for(engine)
    outcomes: dict[str, str] = {}
    lock = _file_lock(str(path))
    lock.acquire()
    try:
        first = threading.Thread(target=_record_outcome, args=(engine, "msg:first", outcomes))
        first.start()
        with group._mutex:
            assert group._mutex.wait_for(lambda: group._leading and not group._queue, 10)
        later = [
            threading.Thread(target=_record_outcome, args=(engine, key, outcomes))
            for key in ("msg:a", "msg:bad", "msg:c")
        ]
        for thread in later:
            thread.start()
        with group._mutex:
            assert group._mutex.wait_for(lambda: len(group._queue) == 3, 10)
    finally:
        lock.release()
    for thread in [first, *later]:
        thread.join()
    assert outcomes == {
        "msg:first": "fresh",
        "msg:a": "fresh",
        "msg:bad": "error",
        "msg:c": "fresh",
    }
    with engine.connect() as conn:
        assert conn.scalar(select(func.count(InboundEvent.id))) == 3
    engine.dispose()


def _record_outcome(engine, key: str, outcomes: dict[str, str]) -> None:
    from bot.services.inbound import accept_inbound

    outcomes[key] = _outcome(accept_inbound, engine, key)


def test_an_interrupted_caller_passes_on_the_lead():
    """A caller that leaves while queued (an exception raised into its thread) must not leave
    the group without a leader: every later caller would wait for ever."""
    from bot.services.inbound import _GroupCommit, _Pending

    group = _GroupCommit()
    promoted, behind = _Pending(("a",)), _Pending(("b",))
    group._leading, group._queue = True, [promoted, behind]
    promoted.lead = True
    group._abandon(promoted, lead=False)
    assert group._queue == [behind] and behind.lead and behind.done.is_set()

    group._abandon(behind, lead=True)
    assert group._queue == [] and not group._leading

    waiting = _Pending(("c",))  # an ordinary follower just leaves
    group._leading, group._queue = True, [waiting]
    group._abandon(waiting, lead=False)
    assert group._queue == [] and group._leading


def test_a_failed_group_fails_every_caller_in_it(state, session):
    """Nobody is told 'recorded' when the transaction rolled back."""
    from bot.services.inbound import accept_inbound

    session.execute(text("ALTER TABLE inbound_events RENAME TO inbound_events_away"))
    session.commit()
    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(
                pool.map(lambda k: _outcome(accept_inbound, state.engine, k), ["a", "b", "c"])
            )
    finally:
        session.execute(text("ALTER TABLE inbound_events_away RENAME TO inbound_events"))
        session.commit()
    assert outcomes == ["error"] * 3
    assert accept_inbound(state.engine, _event("a")) is True


def _outcome(accept, engine, key: str) -> str:
    try:
        return "fresh" if accept(engine, _event(key)) else "seen"
    except SQLAlchemyError:
        return "error"


def test_concurrent_deliveries_are_recorded_once_each(state):
    """Four threads deliver 60 keys, each key twice: 60 rows, 60 first deliveries, no errors."""
    from bot.services.inbound import accept_inbound

    keys = [f"msg:{i}" for i in range(60)] * 2
    with ThreadPoolExecutor(4) as pool:
        fresh = list(pool.map(lambda k: accept_inbound(state.engine, _event(k)), keys))
    assert sum(fresh) == 60
    with state.engine.connect() as conn:
        assert conn.scalar(select(func.count(InboundEvent.id))) == 60


def test_raw_insert_writes_what_the_orm_reads(state, session):
    from bot.services.inbound import accept_inbound

    assert accept_inbound(state.engine, _event("msg:orm"))
    row = session.scalars(select(InboundEvent)).one()
    assert row.received_at == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    assert row.state == "pending" and row.attempts == 0
    assert Event.from_dict(row.payload) == _event("msg:orm")


def test_a_mistake_on_sqlite_is_a_bug_not_an_outage(tmp_path):
    """SQLite raises OperationalError for a missing table as for a locked or missing file:
    only the second is "the database is away" (503); the first is a bug (500, traceback)."""

    def error_of(url: str, sql: str) -> OperationalError:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        except OperationalError as exc:
            return exc
        finally:
            engine.dispose()
        raise AssertionError("no error")

    assert not is_unavailable(error_of(f"sqlite:///{tmp_path / 'a.db'}", "SELECT * FROM nowhere"))
    assert is_unavailable(error_of(f"sqlite:///{tmp_path / 'no' / 'b.db'}", "SELECT 1"))
