"""Hash-chain proofs for an employee's entries (what `evidence export` will carry): accepted
alone and by `ledger verify`, rejected when altered or when the ledger no longer agrees."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from bot.cli import cli
from bot.models import LedgerEntry
from bot.services.chain import LedgerKey, session_key
from bot.services.ledger import (
    ChainProof,
    check_proof,
    prove_employee_entries,
    prove_entries,
    reverse_entry,
    verify_ledger,
)
from bot.services.ledgerproof import ProofRefused
from tests.conftest import SECRET
from tests.factories import make_team


@pytest.fixture
def people(session, clock):
    """Worker a: 3 entries and a reversal; worker b's entries in between."""
    _, (a, b) = make_team(session)
    from bot.services.ledger import append_entry

    t = clock.now()
    rows = []
    for i, (who, memo) in enumerate([(a, "A05 首检"), (b, "B私密备注"), (a, "A03 上报"),
                                     (b, "B01"), (a, "B01 交接")]):  # fmt: skip
        rows.append(append_entry(session, who, 5 + i, kind="claim", memo=memo,
                                 now=t + timedelta(minutes=i)))  # fmt: skip
    reverse_entry(session, rows[2], memo="冲正：重复申领", now=t + timedelta(minutes=9), by=None)
    session.commit()
    return a, b


@pytest.fixture
def proof(session, people, clock):
    a, _ = people
    return prove_employee_entries(
        session, a.id, since=clock.now() - timedelta(days=90), at=clock.now()
    )


@pytest.fixture
def verify_file(state, tmp_path):
    env = {"DATABASE_URL": state.engine.url.render_as_string(hide_password=False),
           "BOT_SECRET_KEY": SECRET, "BOT_VAR_DIR": str(tmp_path / "var"), "BOT_ENV": "test"}  # fmt: skip

    def run(content: str):
        path = tmp_path / "chain-proof.json"
        path.write_text(content, encoding="utf-8")
        result = CliRunner().invoke(cli, ["ledger", "verify", "--checkpoint", str(path)], env=env)
        return result.exit_code, result.output

    return run


def _edited(proof: ChainProof, change) -> str:
    doc = json.loads(proof.to_json())
    change(doc)
    return json.dumps(doc, ensure_ascii=False)


def test_employee_proof_is_sound_alone_and_accepted_by_ledger_verify(session, proof, verify_file):
    assert [e["seq"] for e in proof.entries] == [1, 3, 5, 6]
    assert check_proof(ChainProof.from_json(proof.to_json()), session_key(session)) == []
    code, output = verify_file(proof.to_json())
    assert code == 0, output
    assert "6 entries, chain intact" in output and "1 proof(s) sound" in output


def test_proof_shows_nothing_of_other_employees(proof, people):
    _, b = people
    document = proof.to_json()
    assert "B私密备注" not in document
    assert all(e["employee_id"] != b.id for e in proof.entries)
    # b's entry seq 2 follows a's seq 1: only its hash appears, as seq 1's successor.
    assert proof.entries[0]["next_hash"] is not None


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["entries"][0].update(points=500),
        lambda d: d["entries"][1].update(memo="A01 发现模具磨损隐患并报修"),
        lambda d: d["entries"].pop(3),  # hide the reversal
        lambda d: d["scope"].update(**{"from": "2026-11-26T02:03:00.000000Z"}),
        lambda d: d.update(checkpoint=d["checkpoint"].replace("seq=6 ", "seq=7 ")),
    ],
    ids=["points", "memo", "dropped-reversal", "narrowed-scope", "checkpoint"],
)
def test_altered_proof_is_rejected_alone_and_by_ledger_verify(session, proof, verify_file, change):
    altered = ChainProof.from_json(_edited(proof, change))
    assert check_proof(altered, session_key(session)) != []
    code, output = verify_file(_edited(proof, change))
    assert code == 1 and "MISMATCH proof of " in output


def test_proof_resigned_with_the_key_but_leaving_an_entry_out_is_caught_by_the_ledger(
    session, proof
):
    """Someone holding the key can re-sign a trimmed proof; the database still says what the
    employee's window holds."""
    key = session_key(session)
    trimmed = ChainProof(proof.entries[:3], proof.checkpoint, proof.scope, key.key_id)
    trimmed = ChainProof(trimmed.entries, trimmed.checkpoint, trimmed.scope, key.key_id,
                         key.sign(trimmed.body()))  # fmt: skip
    assert check_proof(trimmed, key) == []
    problems = verify_ledger(session, proofs=[trimmed]).problems
    assert any("leaves out entry seq 6 of employee" in p for p in problems)


def test_proof_is_rejected_once_the_ledger_was_rewritten(session, proof):
    session.execute(text("UPDATE ledger_entries SET points = 50, hash = :h WHERE seq = 3"),
                    {"h": "e" * 64})  # fmt: skip
    session.commit()
    problems = verify_ledger(session, proofs=[proof]).problems
    assert "different hash than the proof saw" in " ".join(problems)


def test_proof_made_with_another_key_is_refused(session, proof):
    other = LedgerKey("another-installation-key-" + "7" * 20)
    (problem,) = check_proof(proof, other)
    assert "made with key" in problem and "BOT_LEDGER_KEY is key" in problem


def test_no_proof_is_made_for_a_tampered_entry(session, people, clock):
    session.execute(text("UPDATE ledger_entries SET points = 99 WHERE seq = 3"))
    session.commit()
    with pytest.raises(ProofRefused, match="seq 3"):
        prove_entries(session, session.scalars(select(LedgerEntry)), at=clock.now())


def test_proof_of_chosen_entries_checks_against_its_checkpoint(session, people, clock):
    entries = session.scalars(select(LedgerEntry).where(LedgerEntry.seq.in_([2, 3]))).all()
    proof = prove_entries(session, entries, at=clock.now())
    assert proof.scope is None and proof.checkpoint.seq == 6
    assert verify_ledger(session, proofs=[proof]).ok


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{}", "not a ledger proof"),
        ('{"format": "points-ledger-proof"', "not JSON"),
        ("{" + '"a":' * 100_000 + "1" + "}" * 100_000, "not JSON"),
    ],
    ids=["wrong-format", "truncated", "deeply-nested"],
)
def test_unusable_proof_file_is_one_clear_line(people, verify_file, content, reason):
    code, output = verify_file(content)
    assert code == 1 and f"not a usable ledger proof: {reason}" in output
