"""BOT_LEDGER_KEY: generated once in development, required in production, never shown, and
appends never mix keys."""

from __future__ import annotations

import logging
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from bot.config import load_config
from bot.db import make_engine, make_session_factory
from bot.errors import ConfigError
from bot.models import LedgerEntry, LedgerHead
from bot.services.chain import LedgerKey, LedgerKeyError
from bot.services.ledger import append_entry, verify_ledger
from tests.conftest import SECRET
from tests.factories import make_team


def test_ledger_key_is_generated_once_into_the_var_directory(tmp_path):
    first = load_config({"BOT_VAR_DIR": str(tmp_path)})
    again = load_config({"BOT_VAR_DIR": str(tmp_path)})
    assert len(first.ledger_key) >= 32 and again.ledger_key == first.ledger_key
    assert first.ledger_key != first.secret_key
    assert (tmp_path / "ledger_key").stat().st_mode & 0o777 == 0o600


def test_processes_starting_at_once_share_one_generated_key(tmp_path):
    barrier = threading.Barrier(6)
    keys: list[str] = []

    def start() -> None:
        barrier.wait(timeout=10)
        keys.append(load_config({"BOT_VAR_DIR": str(tmp_path)}).ledger_key)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(keys) == 6 and len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger_key", "secret_key"]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"BOT_ENV": "production"}, "BOT_LEDGER_KEY: required when BOT_ENV=production"),
        ({"BOT_LEDGER_KEY": "short"}, "BOT_LEDGER_KEY: expected at least 32 characters, got 5"),
        ({"BOT_LEDGER_KEY": SECRET}, "BOT_LEDGER_KEY: must differ from BOT_SECRET_KEY"),
    ],
    ids=["production-without", "too-short", "same-as-secret-key"],
)
def test_bad_ledger_key_stops_start_up_with_one_line(tmp_path, env, message):
    with pytest.raises(ConfigError) as err:
        load_config({"BOT_VAR_DIR": str(tmp_path), "BOT_SECRET_KEY": SECRET, **env})
    assert str(err.value) == message


def test_production_takes_the_key_from_the_environment_and_writes_no_key_file(tmp_path):
    key = "p" * 40
    config = load_config({"BOT_VAR_DIR": str(tmp_path), "BOT_ENV": "production",
                          "BOT_SECRET_KEY": SECRET, "BOT_LEDGER_KEY": key})  # fmt: skip
    assert config.ledger_key == key and not (tmp_path / "ledger_key").exists()


def test_the_key_is_never_shown_or_logged(state, session, clock, caplog):
    caplog.set_level(logging.DEBUG)
    secret = state.config.ledger_key
    _, (a, _) = make_team(session)
    append_entry(session, a, 5, kind="claim", memo="B01", now=clock.now())
    session.commit()
    assert verify_ledger(session).ok
    key = LedgerKey(secret)
    assert secret not in repr(state.config) and secret not in repr(key)
    assert secret not in caplog.text and key.key_id in repr(key)


def test_first_append_records_which_key_keys_the_ledger(state, session, clock):
    _, (a, _) = make_team(session)
    assert session.get(LedgerHead, 1).key_id is None
    append_entry(session, a, 5, kind="claim", memo="B01", now=clock.now())
    session.commit()
    assert session.get(LedgerHead, 1).key_id == LedgerKey(state.config.ledger_key).key_id


def test_append_under_another_key_is_refused_and_writes_nothing(state, session, clock):
    _, (a, _) = make_team(session)
    append_entry(session, a, 5, kind="claim", memo="B01", now=clock.now())
    session.commit()
    engine = make_engine(state.engine.url.render_as_string(hide_password=False))
    other = make_session_factory(engine, ledger_key="another-key-" + "9" * 30)()
    try:
        with pytest.raises(LedgerKeyError, match="restore the key the ledger was keyed with"):
            append_entry(other, other.merge(a), 5, kind="claim", memo="B01", now=clock.now())
        other.rollback()
    finally:
        other.close()
        engine.dispose()
    assert session.scalar(select(func.count(LedgerEntry.id))) == 1


def test_a_session_without_the_key_cannot_append(state, session, clock):
    _, (a, _) = make_team(session)
    engine = make_engine(state.engine.url.render_as_string(hide_password=False))
    bare = make_session_factory(engine)()
    try:
        with pytest.raises(LedgerKeyError, match="no ledger key on this session"):
            append_entry(bare, bare.merge(a), 5, kind="claim", memo="B01", now=clock.now())
    finally:
        bare.close()
        engine.dispose()


def test_verify_with_the_wrong_key_says_so_once(state, session, clock, tmp_path):
    _, (a, b) = make_team(session)
    for who in (a, b, a):
        append_entry(session, who, 5, kind="claim", memo="B01", now=clock.now())
    session.commit()
    env = {"DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
           "BOT_SECRET_KEY": SECRET, "BOT_LEDGER_KEY": "a-restored-wrong-key-" + "1" * 20,
           "BOT_VAR_DIR": str(tmp_path / "var"), "BOT_ENV": "test"}  # fmt: skip
    result = CliRunner().invoke(cli, ["ledger", "verify"], env=env)
    assert result.exit_code == 1
    mismatches = [line for line in result.output.splitlines() if line.startswith("MISMATCH")]
    assert len(mismatches) == 1 and "the chain is keyed with key" in mismatches[0]
