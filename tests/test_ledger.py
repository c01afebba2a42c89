"""The hash-chained ledger: appends, reversals, balances, and tamper detection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update

from bot.errors import InvalidInput
from bot.models import LedgerEntry
from bot.services.ledger import append_entry, balance, reverse_entry, verify_ledger
from tests.factories import make_team


@pytest.fixture
def entries(session, clock):
    boss, (a, b) = make_team(session)
    now = clock.now()
    rows = [
        append_entry(session, a, 20, kind="claim", memo="A01", now=now),
        append_entry(session, b, 5, kind="claim", memo="B01", now=now + timedelta(minutes=1)),
        append_entry(session, a, 2, kind="bonus", memo="推广", now=now + timedelta(minutes=2)),
    ]
    session.commit()
    return a, b, rows


def test_chain_verifies_and_balances_derive_from_entries(session, entries):
    a, b, _ = entries
    report = verify_ledger(session)
    assert report.ok and report.entries == 3
    assert (balance(session, a.id), balance(session, b.id)) == (22, 5)


def test_reversal_is_a_new_negative_entry(session, entries, clock):
    a, _, rows = entries
    reversal = reverse_entry(session, rows[0], memo="申诉更正", now=clock.now(), by=None)
    session.commit()
    assert reversal.points == -20 and reversal.reversal_of_id == rows[0].id
    assert balance(session, a.id) == 2
    assert verify_ledger(session).ok
    with pytest.raises(InvalidInput):
        reverse_entry(session, rows[0], memo="again", now=clock.now(), by=None)


@pytest.mark.parametrize(
    "column, value",
    [("points", 200), ("employee_id", None), ("memo", "改过"), ("hash", "f" * 64)],
    ids=["points", "employee", "memo", "hash"],
)
def test_tampered_entry_is_detected(session, entries, column, value):
    _, b, rows = entries
    value = b.id if column == "employee_id" else value
    session.execute(update(LedgerEntry).where(LedgerEntry.id == rows[0].id).values({column: value}))
    session.commit()
    report = verify_ledger(session)
    assert not report.ok
    assert any("seq 1" in p or "seq 2" in p for p in report.problems)


def test_deleted_entry_is_detected(session, entries):
    _, _, rows = entries
    session.execute(text("DELETE FROM ledger_entries WHERE id = :id"), {"id": rows[1].id})
    session.commit()
    problems = verify_ledger(session).problems
    assert any("missing" in p for p in problems)


def test_truncated_tail_is_detected_by_the_head_row(session, entries):
    _, _, rows = entries
    session.execute(text("DELETE FROM ledger_entries WHERE id = :id"), {"id": rows[2].id})
    session.commit()
    assert any("ledger_head" in p for p in verify_ledger(session).problems)


def test_ledger_verify_cli_exits_non_zero_on_tampering(session, entries, state, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    monkeypatch.setenv("DATABASE_URL", str(session.get_bind().url.render_as_string(False)))
    monkeypatch.setenv("BOT_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("BOT_LEDGER_KEY", state.config.ledger_key)
    runner = CliRunner()
    ok = runner.invoke(cli, ["ledger", "verify"])
    assert ok.exit_code == 0 and "3 entries, chain intact" in ok.output
    session.execute(update(LedgerEntry).where(LedgerEntry.seq == 2).values(points=50))
    session.commit()
    bad = runner.invoke(cli, ["ledger", "verify"])
    assert bad.exit_code == 1 and "MISMATCH seq 2" in bad.output
