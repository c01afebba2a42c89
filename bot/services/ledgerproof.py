"""Hash-chain proofs for a set of ledger entries (积分流水证明), as an evidence export carries.

A proof is one JSON document: the entries' hashed fields with their `prev_hash` and `hash`, the
hash of each entry's successor in the chain (`next_hash`; neighbours appear only as hashes, so
a proof for one employee shows nothing of anyone else's), a signed checkpoint of the chain's
head when the proof was made, an optional scope (employee and time window), and a signature
over all of it, all under BOT_LEDGER_KEY.

* Alone, with the key (`check_proof`): the document is unaltered, each entry's content matches
  its keyed hash, adjacent entries link up, and the checkpoint is genuine and covers them.
* Against the database (`verify_ledger(session, proofs=[...])`, which is what
  `python -m bot ledger verify --checkpoint PROOF.json` runs): every entry, successor hash and
  the checkpoint are still in the chain, and a scoped proof leaves out none of that employee's
  entries in its window up to its checkpoint.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import LedgerEntry
from bot.services.chain import (
    HASHED_FIELDS,
    Checkpoint,
    LedgerKey,
    checkpoint_problem,
    entry_record,
    parse_checkpoints,
    session_key,
    utc_stamp,
)
from bot.services.checkpoints import head_checkpoint

PROOF_FORMAT = "points-ledger-proof"
PROOF_VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
_OPTIONAL_INTS = ("department_id", "claim_id", "rule_id", "campaign_id", "reversal_of_id",
                  "created_by_id")  # fmt: skip


class ProofRefused(ValueError):
    """A proof cannot be made: an entry to prove does not match its own hash (tampered)."""


@dataclass(frozen=True)
class ChainProof:
    """A signed hash-chain proof for a set of entries; see the module docstring.

    `source` (where it was read from) is not part of the document.
    """

    entries: tuple[dict[str, Any], ...]
    checkpoint: Checkpoint
    scope: dict[str, Any] | None
    key_id: str
    signature: str = ""
    source: str = ""

    def document(self) -> dict[str, Any]:
        """Everything the signature covers."""
        return {
            "format": PROOF_FORMAT,
            "version": PROOF_VERSION,
            "key_id": self.key_id,
            "scope": self.scope,
            "checkpoint": self.checkpoint.line,
            "entries": list(self.entries),
        }

    def body(self) -> str:
        """The signed text: the document as canonical JSON."""
        canonical = json.dumps(
            self.document(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        return f"ledger-proof v{PROOF_VERSION}\n{canonical}"

    def to_json(self) -> str:
        """The file form (UTF-8 JSON, one entry per line block)."""
        return json.dumps({**self.document(), "signature": self.signature}, ensure_ascii=False,
                          indent=1)  # fmt: skip

    @property
    def label(self) -> str:
        """How problems name this proof."""
        return f"proof of {self.checkpoint.at}" + (f" ({self.source})" if self.source else "")

    @classmethod
    def from_json(cls, text: str, source: str = "") -> ChainProof:
        """Read a proof file.

        Raises:
            ValueError: not a well-formed ledger proof (the message says what is wrong).
        """
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("not JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != PROOF_FORMAT:
            raise ValueError("not a ledger proof")
        if doc.get("version") != PROOF_VERSION:
            raise ValueError(f"unknown proof version {doc.get('version')!r}")
        found, _ = parse_checkpoints(str(doc.get("checkpoint", "")))
        if len(found) != 1:
            raise ValueError("its checkpoint is malformed")
        entries = doc.get("entries")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError("entries: expected a list of objects")
        for i, e in enumerate(entries):
            problem = _entry_shape_problem(e)
            if problem:
                raise ValueError(f"entries[{i}]: {problem}")
        scope = doc.get("scope")
        if scope is not None and not _scope_ok(scope):
            raise ValueError("scope: expected employee_id, from and to")
        key_id, signature = doc.get("key_id"), doc.get("signature")
        if not isinstance(key_id, str) or not isinstance(signature, str):
            raise ValueError("key_id and signature must be text")
        cp = found[0]
        checkpoint = Checkpoint(cp.seq, cp.hash, cp.at, cp.key_id, cp.signature, source)
        return cls(tuple(entries), checkpoint, scope, key_id, signature, source)


def _is_int(value: Any) -> bool:
    # Within BIGINT, so that no value from a file can make a database query fail.
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _entry_shape_problem(e: dict[str, Any]) -> str | None:
    missing = [k for k in (*HASHED_FIELDS, "prev_hash", "hash", "next_hash") if k not in e]
    if missing:
        return f"missing {', '.join(missing)}"
    if not all(_is_int(e[k]) for k in ("seq", "employee_id", "points")) or e["seq"] < 1:
        return "seq, employee_id and points must be integers"
    if not all(e[k] is None or _is_int(e[k]) for k in _OPTIONAL_INTS):
        return "ids must be integers or null"
    if not all(isinstance(e[k], str) for k in ("kind", "memo", "created_at")):
        return "kind, memo and created_at must be text"
    if e["category"] is not None and not isinstance(e["category"], str):
        return "category must be text or null"
    hashes = [e["prev_hash"], e["hash"]] + ([e["next_hash"]] if e["next_hash"] is not None else [])
    if not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in hashes):
        return "hashes must be 64 hex digits"
    return None


def _scope_ok(scope: Any) -> bool:
    return (
        isinstance(scope, dict)
        and _is_int(scope.get("employee_id"))
        and isinstance(scope.get("from"), str)
        and (scope.get("to") is None or isinstance(scope.get("to"), str))
    )


def _sign(key: LedgerKey, entries: list[dict[str, Any]], cp: Checkpoint, scope) -> ChainProof:
    unsigned = ChainProof(tuple(entries), cp, scope, key.key_id)
    return ChainProof(tuple(entries), cp, scope, key.key_id, key.sign(unsigned.body()))


def _records(session: Session, key: LedgerKey, entries: Iterable[LedgerEntry]) -> list[dict]:
    """The proof records of the entries, by seq, each with its successor's hash.

    Raises:
        ProofRefused: an entry does not match its own hash.
    """
    unique = sorted({e.seq: e for e in entries}.values(), key=lambda e: e.seq)
    bad = [e.seq for e in unique if key.entry_hash(e.prev_hash, e) != e.hash]
    if bad:
        raise ProofRefused(f"entries seq {', '.join(map(str, bad[:10]))} do not match their hash")
    successors = [e.seq + 1 for e in unique]
    following: dict[int, str] = {}
    for start in range(0, len(successors), 500):
        rows = session.execute(
            select(LedgerEntry.seq, LedgerEntry.hash).where(
                LedgerEntry.seq.in_(successors[start : start + 500])
            )
        )
        following.update((seq, hash_) for seq, hash_ in rows)
    return [
        {**entry_record(e), "prev_hash": e.prev_hash, "hash": e.hash,
         "next_hash": following.get(e.seq + 1)}
        for e in unique
    ]  # fmt: skip


def prove_entries(session: Session, entries: Iterable[LedgerEntry], *, at: datetime) -> ChainProof:
    """A signed proof for these entries, with a checkpoint of the head as of `at`.

    Raises:
        ProofRefused: an entry does not match its own hash (`ledger verify` says more).
        EmptyLedger: the ledger has no entries.
    """
    key = session_key(session)
    records = _records(session, key, entries)
    return _sign(key, records, head_checkpoint(session, at), None)


def prove_employee_entries(
    session: Session, employee_id: int, *, since: datetime, until: datetime | None = None,
    at: datetime,
) -> ChainProof:  # fmt: skip
    """A signed proof of every entry of one employee created in [since, until) (until: up to
    the head), scoped so that leaving one out is detected.

    Raises:
        ProofRefused: an entry does not match its own hash.
        EmptyLedger: the ledger has no entries.
    """
    key = session_key(session)
    checkpoint = head_checkpoint(session, at)  # first: entries appended meanwhile are out
    query = select(LedgerEntry).where(
        LedgerEntry.employee_id == employee_id,
        LedgerEntry.created_at >= since,
        LedgerEntry.seq <= checkpoint.seq,
    )
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    records = _records(session, key, session.scalars(query.order_by(LedgerEntry.seq)))
    scope = {"employee_id": employee_id, "from": utc_stamp(since),
             "to": utc_stamp(until) if until else None}  # fmt: skip
    return _sign(key, records, checkpoint, scope)


def check_proof(proof: ChainProof, key: LedgerKey) -> list[str]:
    """What is wrong with a proof, checked with the key alone (no database); [] when sound."""
    who = proof.label
    if proof.key_id != key.key_id:
        return [f"{who}: made with key {proof.key_id}, but BOT_LEDGER_KEY is key {key.key_id}"]
    problems: list[str] = []
    if not key.signed(proof.body(), proof.signature):
        problems.append(f"{who}: signature does not verify with BOT_LEDGER_KEY (altered)")
    cp_problem = checkpoint_problem(key, proof.checkpoint)
    if cp_problem:
        problems.append(f"{who}: {cp_problem}")
    previous: dict[str, Any] | None = None
    for e in proof.entries:
        record = {name: e[name] for name in HASHED_FIELDS}
        if key.record_hash(e["prev_hash"], record) != e["hash"]:
            problems.append(f"{who}: entry seq {e['seq']} does not match its hash (altered)")
        if e["seq"] > proof.checkpoint.seq:
            problems.append(f"{who}: entry seq {e['seq']} is newer than its checkpoint")
        elif e["seq"] == proof.checkpoint.seq and e["hash"] != proof.checkpoint.hash:
            problems.append(f"{who}: entry seq {e['seq']} differs from its checkpoint")
        if proof.scope and e["employee_id"] != proof.scope["employee_id"]:
            problems.append(f"{who}: entry seq {e['seq']} is another employee's")
        if previous is not None:
            if e["seq"] <= previous["seq"]:
                problems.append(f"{who}: entry seq {e['seq']} is out of order or repeated")
            elif e["seq"] == previous["seq"] + 1 and (
                e["prev_hash"] != previous["hash"] or previous["next_hash"] != e["hash"]
            ):
                problems.append(f"{who}: entries seq {previous['seq']} and {e['seq']} do not link")
        previous = e
    return problems


def proof_scope_problems(session: Session, proof: ChainProof) -> list[str]:
    """For a scoped proof: the employee's entries in its window (up to its checkpoint) that it
    leaves out, and those it lists that are not in that window."""
    if not proof.scope:
        return []
    scope = proof.scope
    try:
        since = datetime.strptime(scope["from"], _STAMP).replace(tzinfo=UTC)
        to = scope.get("to")
        until = datetime.strptime(to, _STAMP).replace(tzinfo=UTC) if to else None
    except ValueError:
        return [f"{proof.label}: its scope has a malformed time"]
    query = select(LedgerEntry.seq).where(
        LedgerEntry.employee_id == scope["employee_id"],
        LedgerEntry.created_at >= since,
        LedgerEntry.seq <= proof.checkpoint.seq,
    )
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    in_db = set(session.scalars(query))
    listed = {e["seq"] for e in proof.entries}
    return [
        f"{proof.label}: leaves out entry seq {seq} of employee {scope['employee_id']}"
        for seq in sorted(in_db - listed)
    ] + [
        f"{proof.label}: entry seq {seq} is not one of the employee's entries in its window"
        for seq in sorted(listed - in_db)
    ]


def read_verification_file(path: Path) -> tuple[list[Checkpoint], list[ChainProof], list[str]]:
    """The checkpoints or the proof a file holds (a checkpoint file, a pasted chat message or
    a proof), and one problem when it holds neither or cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is fine
    except (OSError, UnicodeDecodeError) as exc:
        return [], [], [f"{path}: cannot read ({type(exc).__name__})"]
    if text.lstrip().startswith("{"):
        try:
            return [], [ChainProof.from_json(text, str(path))], []
        except ValueError as exc:
            return [], [], [f"{path}: not a usable ledger proof: {exc}"]
    found, problems = parse_checkpoints(text, str(path))
    if not found and not problems:
        problems = [f"{path}: holds no ledger checkpoint"]
    return found, [], problems
