"""Issue 15, "a rewritable ledger": a database writer must not rewrite history undetected.

Each attack is done the way a person with write access to the database would do it (plain SQL,
the hash algorithm from the source code), and `python -m bot ledger verify` must then fail with
one line naming what it found. The attacker has the database but not BOT_LEDGER_KEY, unless a
test says otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from bot.cli import cli
from bot.models import LedgerEntry
from bot.services.ledger import append_entry
from tests.conftest import SECRET
from tests.factories import make_team

Hasher = Callable[[str, dict], str]


def previous_release_hash(prev_hash: str, row: dict) -> str:
    """What the previous release chained with: plain SHA-256, no secret (public in its source)."""
    parts = [prev_hash, str(row["seq"]), str(row["employee_id"]), str(row["department_id"] or ""),
             str(row["points"]), row["kind"], row["category"] or "", str(row["claim_id"] or ""),
             str(row["rule_id"] or ""), str(row["campaign_id"] or ""),
             str(row["reversal_of_id"] or ""), row["memo"], str(row["created_by_id"] or ""),
             row["created_at"].strftime("%Y-%m-%dT%H:%M:%S.%f")]  # fmt: skip
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def keyed_with(secret: str) -> Hasher:
    """Today's keyed algorithm (public in the source) under a key of the attacker's choosing."""
    from types import SimpleNamespace

    from bot.services.chain import LedgerKey

    key = LedgerKey(secret)
    return lambda prev, row: key.entry_hash(prev, SimpleNamespace(**row))


GUESSED_KEY = "attacker-guess-" + "0" * 40
ATTACKER_HASHERS = {
    "unkeyed-sha256": lambda: previous_release_hash,
    "guessed-key": lambda: keyed_with(GUESSED_KEY),
}


@pytest.fixture
def verify(state, tmp_path):
    """Run `python -m bot ledger verify [ARGS]` as the operator would, with the app's key."""
    env = {
        "DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
        "BOT_SECRET_KEY": SECRET,
        "BOT_VAR_DIR": str(tmp_path / "var"),
        "BOT_MEDIA_DIR": str(tmp_path / "media"),
        "BOT_ENV": "test",
    }

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["ledger", *args], env=env)
        return result.exit_code, result.output

    return run


@pytest.fixture
def ledger(session, clock):
    """Six genuine entries for two workers."""
    _, (a, b) = make_team(session)
    now = clock.now()
    for i, (who, points) in enumerate([(a, 20), (b, 5), (a, 10), (b, 15), (a, 5), (b, 10)]):
        append_entry(session, who, points, kind="claim", memo=f"A0{i + 1}", category="质量",
                     now=now + timedelta(minutes=i))  # fmt: skip
    session.commit()
    return a, b


def _rows(session) -> list[dict]:
    session.expire_all()
    return [
        {c.name: getattr(e, c.name) for c in LedgerEntry.__table__.columns}
        for e in session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))
    ]


def _rechain(session, rows: list[dict], hasher: Hasher) -> None:
    """Recompute every prev_hash and hash from the genesis, and move the head: a full rewrite."""
    prev = "0" * 64
    for row in rows:
        row["prev_hash"], row["hash"] = prev, hasher(prev, row)
        session.execute(
            text("UPDATE ledger_entries SET prev_hash = :p, hash = :h WHERE id = :id"),
            {"p": row["prev_hash"], "h": row["hash"], "id": row["id"]},
        )
        prev = row["hash"]
    session.execute(
        text("UPDATE ledger_head SET seq = :s, hash = :h WHERE id = 1"),
        {"s": rows[-1]["seq"], "h": prev},
    )
    session.commit()


def _checkpoint(verify, tmp_path: Path) -> Path:
    path = tmp_path / "held-by-hr.txt"
    code, output = verify("checkpoint", "-o", str(path))
    assert code == 0, output
    return path


def test_untouched_ledger_verifies_against_its_checkpoint(ledger, verify, tmp_path):
    path = _checkpoint(verify, tmp_path)
    code, output = verify("verify", "--checkpoint", str(path))
    assert code == 0, output
    assert "6 entries, chain intact" in output


def test_deleting_the_last_entry_and_moving_the_head_back_fails_against_a_checkpoint(
    session, ledger, verify, tmp_path
):
    path = _checkpoint(verify, tmp_path)
    session.execute(text("DELETE FROM ledger_entries WHERE seq = 6"))
    session.execute(
        text(
            "UPDATE ledger_head SET seq = 5, hash = (SELECT hash FROM ledger_entries WHERE seq = 5)"
        )
    )
    session.commit()
    code, output = verify("verify", "--checkpoint", str(path))
    assert code == 1, output
    assert "saw entry seq 6, but the chain ends at seq 5" in output


@pytest.mark.parametrize("attacker", ATTACKER_HASHERS)
def test_editing_an_entry_and_recomputing_every_hash_fails_verify(
    session, ledger, verify, attacker
):
    rows = _rows(session)
    rows[1]["points"] = 50
    session.execute(text("UPDATE ledger_entries SET points = 50 WHERE seq = 2"))
    _rechain(session, rows, ATTACKER_HASHERS[attacker]())
    code, output = verify("verify")
    assert code == 1, output
    assert "MISMATCH seq 2: content does not match its hash" in output


@pytest.mark.parametrize("attacker", ATTACKER_HASHERS)
def test_appending_a_properly_chained_forged_entry_fails_verify(session, ledger, verify, attacker):
    a, _ = ledger
    hasher = ATTACKER_HASHERS[attacker]()
    last = _rows(session)[-1]
    forged = {**last, "id": last["id"] + 100, "seq": 7, "employee_id": a.id, "points": 500,
              "memo": "A01 发现模具磨损隐患并报修", "created_at": last["created_at"]}  # fmt: skip
    forged["prev_hash"], forged["hash"] = last["hash"], hasher(last["hash"], forged)
    session.execute(LedgerEntry.__table__.insert().values(**forged))
    session.execute(text("UPDATE ledger_head SET seq = 7, hash = :h WHERE id = 1"),
                    {"h": forged["hash"]})  # fmt: skip
    session.commit()
    code, output = verify("verify")
    assert code == 1, output
    assert "MISMATCH seq 7: content does not match its hash" in output


def test_a_rewrite_with_the_key_is_still_caught_by_a_checkpoint_held_elsewhere(
    state, session, ledger, verify, tmp_path
):
    """Someone with the database and the key can re-sign everything, but not HR's old copy."""
    path = _checkpoint(verify, tmp_path)
    rows = _rows(session)
    rows[2]["points"] = 90
    session.execute(text("UPDATE ledger_entries SET points = 90 WHERE seq = 3"))
    _rechain(session, rows, keyed_with(state.config.ledger_key))
    assert verify("verify")[0] == 1  # the database still remembers its own checkpoint row
    session.execute(text("DELETE FROM ledger_checkpoints"))
    session.commit()
    assert verify("verify")[0] == 0  # …which this attacker can delete
    code, output = verify("verify", "--checkpoint", str(path))
    assert code == 1, output
    assert "entry seq 6 has a different hash than the checkpoint saw" in output


@pytest.mark.parametrize(
    "change",
    [("seq=6 ", "seq=5 "), ("hash=", "hash=0")],
    ids=["moved-back-to-fit-a-shorter-chain", "other-hash"],
)
def test_an_altered_checkpoint_is_refused(session, ledger, verify, tmp_path, change):
    path = _checkpoint(verify, tmp_path)
    original = path.read_text()
    line = next(x for x in original.splitlines() if x.startswith("ledger-checkpoint "))
    altered = line.replace(*change, 1)
    if change[0] == "hash=":  # keep the hash 64 hex digits long
        altered = altered.replace("hash=0", "hash=", 1)
        old = altered.split("hash=")[1][:64]
        altered = altered.replace(old, "0" * 64, 1)
    path.write_text(original.replace(line, altered))
    code, output = verify("verify", "--checkpoint", str(path))
    assert code == 1, output
    assert "signature does not verify with BOT_LEDGER_KEY" in output
