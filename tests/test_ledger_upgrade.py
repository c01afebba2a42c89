"""Migration 0009 keys the chain the previous release wrote, without losing an entry."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from bot.cli import cli
from bot.db import alembic_config, make_engine, make_session_factory, upgrade
from bot.errors import UpgradeRefused
from bot.models import LedgerHead, LedgerKeying
from bot.services.chain import GENESIS_HASH, LedgerKey, legacy_entry_hash
from bot.services.ledger import append_entry, balance, verify_ledger
from tests.conftest import SECRET

KEY = "the-factory-ledger-key-" + "5" * 24


def _before_keying() -> str:
    """The revision the keyed-ledger migration (0009) follows."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return str(script.get_revision("0009").down_revision)


PREVIOUS = _before_keying()
T0 = datetime(2026, 11, 20, 1, 0)  # naive UTC, as stored


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request, tmp_path):
    """An empty database of each kind, not yet migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    url = request.getfixturevalue("pg_database")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def _insert(conn, table: str, **values) -> int:
    columns, marks = ", ".join(values), ", ".join(f":{k}" for k in values)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"
    return conn.execute(text(sql), values).scalar_one()


def _previous_release_ledger(url: str, entries: int = 7) -> dict[int, int]:
    """A database just before 0009 whose ledger the previous release chained (unkeyed)."""
    upgrade(url, PREVIOUS)
    engine = create_engine(url)
    balances: dict[int, int] = {}
    with engine.begin() as conn:
        dept = _insert(conn, "departments", path="冲压车间", name="冲压车间")
        people = [_insert(conn, "employees", employee_no=f"E{i}", name=f"员工{i}", role="worker",
                          department_id=dept, active=True, created_at=T0) for i in (1, 2)]  # fmt: skip
        prev = GENESIS_HASH
        for seq in range(1, entries + 1):
            row = SimpleNamespace(
                seq=seq, employee_id=people[seq % 2], department_id=dept, points=seq * 5,
                kind="claim", category="质量", claim_id=None, rule_id=None, campaign_id=None,
                reversal_of_id=None, memo=f"A0{seq} 备注|含\x1f分隔", created_by_id=None,
                created_at=T0 + timedelta(hours=seq, microseconds=seq),
            )  # fmt: skip
            row.prev_hash, row.hash = prev, legacy_entry_hash(prev, row)
            _insert(conn, "ledger_entries", **vars(row))
            prev = row.hash
            balances[row.employee_id] = balances.get(row.employee_id, 0) + row.points
        conn.execute(text("UPDATE ledger_head SET seq = :s, hash = :h"), {"s": entries, "h": prev})
    engine.dispose()
    return balances


def _session(url: str):
    engine = make_engine(url)
    return engine, make_session_factory(engine, ledger_key=KEY)()


def _revision(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    return revision


def test_previous_release_chain_is_keyed_on_upgrade_and_verifies(old_url):
    balances = _previous_release_ledger(old_url)
    upgrade(old_url, ledger_key=KEY)
    engine, session = _session(old_url)
    try:
        report = verify_ledger(session)
        assert report.ok and report.entries == 7, report.problems
        assert {e: balance(session, e) for e in balances} == balances
        keying = session.query(LedgerKeying).one()
        head = session.get(LedgerHead, 1)
        assert (keying.entries, keying.key_id, keying.note) == (7, LedgerKey(KEY).key_id, None)
        assert keying.head_hash == head.hash and head.key_id == keying.key_id
        (checkpoint,) = report.checkpoints  # the keyed head, signed by the upgrade
        assert (checkpoint.seq, checkpoint.hash) == (7, head.hash)
        employee = session.execute(text("SELECT id FROM employees LIMIT 1")).scalar_one()
        from bot.models import Employee

        append_entry(session, session.get(Employee, employee), 5, kind="claim", memo="B01",
                     now=datetime.fromisoformat("2026-11-30T09:00:00+08:00"))  # fmt: skip
        session.commit()
        assert verify_ledger(session).ok
    finally:
        session.close()
        engine.dispose()


def test_keyed_chain_is_not_the_unkeyed_one(old_url):
    _previous_release_ledger(old_url, entries=2)
    engine = create_engine(old_url)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT hash FROM ledger_head")).scalar()
    upgrade(old_url, ledger_key=KEY)
    with engine.connect() as conn:
        keying = conn.execute(text("SELECT legacy_head_hash, head_hash FROM ledger_keyings")).one()
    engine.dispose()
    assert keying.legacy_head_hash == before != keying.head_hash


def test_upgrade_refuses_a_broken_previous_chain_and_changes_nothing(old_url):
    _previous_release_ledger(old_url)
    engine = create_engine(old_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET points = 500 WHERE seq = 4"))
        before = conn.execute(text("SELECT seq, hash FROM ledger_entries ORDER BY seq")).all()
    with pytest.raises(UpgradeRefused) as refused:
        upgrade(old_url, ledger_key=KEY)
    message = str(refused.value)
    assert "seq 4: content does not match its hash" in message and "\n" not in message
    assert "--rekey-broken-ledger" in message
    with engine.connect() as conn:
        after = conn.execute(text("SELECT seq, hash FROM ledger_entries ORDER BY seq")).all()
    engine.dispose()
    assert after == before and _revision(old_url) == PREVIOUS


def test_operator_can_key_a_broken_previous_chain_and_the_problems_are_kept(old_url, tmp_path):
    _previous_release_ledger(old_url)
    engine = create_engine(old_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE seq = 3"))
    engine.dispose()
    env = {"DATABASE_URL": old_url, "BOT_SECRET_KEY": SECRET, "BOT_LEDGER_KEY": KEY,
           "BOT_VAR_DIR": str(tmp_path / "var"), "BOT_ENV": "test"}  # fmt: skip
    refused = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert refused.exit_code == 2 and refused.output.startswith("error: ledger: the unkeyed")
    done = CliRunner().invoke(cli, ["db", "upgrade", "--rekey-broken-ledger"], env=env)
    assert done.exit_code == 0, done.output
    verified = CliRunner().invoke(cli, ["ledger", "verify"], env=env)
    assert verified.exit_code == 1  # the gap is still a gap
    assert "their unkeyed chain was broken then: seq 3: missing (next is 4)" in verified.output


def test_upgrade_without_an_explicit_key_uses_the_configured_one(old_url, monkeypatch, tmp_path):
    _previous_release_ledger(old_url, entries=3)
    monkeypatch.setenv("BOT_LEDGER_KEY", KEY)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    upgrade(old_url)
    engine, session = _session(old_url)
    try:
        assert verify_ledger(session).ok
    finally:
        session.close()
        engine.dispose()


def test_downgrade_puts_back_the_unkeyed_chain(old_url):
    _previous_release_ledger(old_url, entries=4)
    engine = create_engine(old_url)
    with engine.connect() as conn:
        before = conn.execute(
            text("SELECT seq, prev_hash, hash FROM ledger_entries ORDER BY seq")
        ).all()
    upgrade(old_url, ledger_key=KEY)
    command.downgrade(alembic_config(old_url), PREVIOUS)
    with engine.connect() as conn:
        after = conn.execute(
            text("SELECT seq, prev_hash, hash FROM ledger_entries ORDER BY seq")
        ).all()
        head = conn.execute(text("SELECT seq, hash FROM ledger_head")).one()
    with pytest.raises(IntegrityError), engine.begin() as conn:  # still one head row only
        conn.execute(text("INSERT INTO ledger_head (id, seq, hash) VALUES (2, 0, 'x')"))
    engine.dispose()
    assert after == before and tuple(head) == (4, before[-1].hash)


def test_entries_cut_off_right_after_the_upgrade_are_caught_by_its_checkpoint(old_url):
    _previous_release_ledger(old_url, entries=5)
    upgrade(old_url, ledger_key=KEY)
    engine, session = _session(old_url)
    try:
        session.execute(text("DELETE FROM ledger_entries WHERE seq = 5"))
        session.execute(text(
            "UPDATE ledger_head SET seq = 4, hash = (SELECT hash FROM ledger_entries WHERE seq = 4)"
        ))  # fmt: skip
        session.commit()
        problems = verify_ledger(session).problems
        assert len(problems) == 1 and "saw entry seq 5, but the chain ends at seq 4" in problems[0]
    finally:
        session.close()
        engine.dispose()
