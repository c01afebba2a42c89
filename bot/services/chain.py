"""The keyed hash chain under the points ledger (积分流水): the key, entry hashes, checkpoints.

Every entry's `hash` is HMAC-SHA256, under a key derived from BOT_LEDGER_KEY, of its meaningful
fields and the previous entry's hash. The key lives outside the database (environment or
`var/ledger_key`), so what each kind of attacker can do, and what catches them:

* **Database, no key** (SQL access, a leaked database password, a restored copy): cannot make a
  valid hash for an edited, inserted or forged entry, so `ledger verify` finds every such change
  on its own. What they can still do is cut entries off the end (moving the head back) or put
  back an older copy of the database: what remains is a genuine prefix. A **checkpoint** catches
  that: a signed line saying "entry seq N had hash H", published daily to HR's chat and to a file
  kept outside the database. Verify fails when the chain no longer holds entry N with hash H.
  They cannot forge or adjust a checkpoint (it is signed), and deleting the checkpoint rows in
  the database does not remove HR's and the operator's copies. Only entries newer than the newest
  checkpoint held elsewhere can vanish unnoticed: at most a day's worth.
* **Database and key** (root on the application server): can rewrite and re-sign anything,
  checkpoints included. Checkpoints published earlier and held out of their reach (HR's chat
  history on the messenger's servers, the operator's off-site copy) still pin history up to
  their seq: changing any entry at or before N changes the hash at N.
* **Neither** (a worker, an outsider, anyone handed a checkpoint or an evidence proof): cannot
  forge a checkpoint or a proof, nor alter one undetected, and learns nothing about entries from
  their hashes (they are keyed). Checking also needs the key: HR or the operator runs
  `python -m bot ledger verify`; a third party cannot check on their own.

A checkpoint proves the chain's state at a moment, not that each entry was deserved: a wrongful
approval is a genuine entry, corrected by a reversal and answered by an appeal.

Derived keys keep the three uses apart (entry hashes, signatures, the key id shown in
checkpoints), so no value made for one use is ever valid for another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session

from bot.db import LEDGER_KEY_INFO

GENESIS_HASH = "0" * 64
CHAIN_VERSION = 1

# The fields an entry's hash covers, in this order. A ledger column added later that gives an
# entry meaning must be hashed too, without changing the hash of entries written before it:
# append it to the message only when it is set (as a [name, value] pair after these values).
HASHED_FIELDS = (
    "seq",
    "employee_id",
    "department_id",
    "points",
    "kind",
    "category",
    "claim_id",
    "rule_id",
    "campaign_id",
    "reversal_of_id",
    "memo",
    "created_by_id",
    "created_at",
)


class LedgerKeyError(RuntimeError):
    """No ledger key, or not the key this ledger was keyed with (the message says which)."""


def utc_stamp(when: datetime) -> str:
    """`2026-11-26T02:00:00.000000Z`: the one text form of an instant inside hashes and proofs.

    Raises:
        ValueError: a naive datetime (its instant is unknown).
    """
    if when.tzinfo is None:
        raise ValueError("naive datetime in a ledger hash")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_FIELD_VALUES = attrgetter(*HASHED_FIELDS)
# One encoder, made once: json.dumps with options builds a new one per call (~5 µs an append).
# ASCII output: non-ASCII text is escaped, so any string (even a lone surrogate) encodes.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def entry_values(e: Any) -> list[Any]:
    """The hashed fields of an entry (a LedgerEntry or any object with those attributes), in
    HASHED_FIELDS order, as JSON values: created_at becomes a UTC stamp."""
    values = list(_FIELD_VALUES(e))
    if isinstance(values[-1], datetime):
        values[-1] = utc_stamp(values[-1])
    return values


def entry_record(e: Any) -> dict[str, Any]:
    """The hashed fields of an entry by name, as JSON values (what a proof carries)."""
    return dict(zip(HASHED_FIELDS, entry_values(e), strict=True))


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret, b"points-ledger/" + purpose, hashlib.sha256).digest()


class LedgerKey:
    """BOT_LEDGER_KEY, ready to hash entries and sign checkpoints; its repr shows only the id."""

    __slots__ = ("key_id", "_chain", "_sign")

    def __init__(self, secret: str) -> None:
        if not secret:
            raise LedgerKeyError("BOT_LEDGER_KEY: empty")
        raw = secret.encode()
        # Keyed once; each use copies the prepared HMAC state (an append costs one copy).
        self._chain = hmac.new(_derive(raw, b"chain/v1"), digestmod=hashlib.sha256)
        self._sign = hmac.new(_derive(raw, b"sign/v1"), digestmod=hashlib.sha256)
        self.key_id = _derive(raw, b"key-id").hex()[:16]

    def __repr__(self) -> str:
        return f"LedgerKey(key_id={self.key_id!r})"

    def values_hash(self, prev_hash: str, values: list[Any]) -> str:
        """The chain hash of an entry given as its entry_values, after `prev_hash`.

        The message is a JSON array (unambiguous whatever a memo holds) of the chain version,
        the previous hash and the values.
        """
        mac = self._chain.copy()
        mac.update(_ENCODE([CHAIN_VERSION, prev_hash, *values]).encode())
        return mac.hexdigest()

    def record_hash(self, prev_hash: str, record: dict[str, Any]) -> str:
        """The chain hash of an entry given as its entry_record (e.g. from a proof)."""
        return self.values_hash(prev_hash, [record[name] for name in HASHED_FIELDS])

    def entry_hash(self, prev_hash: str, e: Any) -> str:
        """The chain hash of one entry: its hashed fields and the previous entry's hash."""
        return self.values_hash(prev_hash, entry_values(e))

    def sign(self, text: str) -> str:
        """Hex HMAC of `text` (checkpoints, proofs)."""
        mac = self._sign.copy()
        mac.update(text.encode())
        return mac.hexdigest()

    def signed(self, text: str, signature: str) -> bool:
        """True when `signature` is this key's signature of `text`."""
        return hmac.compare_digest(self.sign(text), signature)


@lru_cache(maxsize=8)
def key_from_secret(secret: str) -> LedgerKey:
    """The LedgerKey of a secret, prepared once per process."""
    return LedgerKey(secret)


def session_key(session: Session) -> LedgerKey:
    """The ledger key the session was built with (bot.db.make_session_factory).

    Raises:
        LedgerKeyError: the session carries none.
    """
    secret = session.info.get(LEDGER_KEY_INFO)
    if not secret:
        raise LedgerKeyError(
            "no ledger key on this session: build it with "
            "make_session_factory(engine, ledger_key=config.ledger_key)"
        )
    return key_from_secret(secret)


def legacy_entry_hash(prev_hash: str, e: Any) -> str:
    """The unkeyed SHA-256 the release before BOT_LEDGER_KEY chained with; used only to check
    such a chain before re-keying it (migration 0009)."""
    parts = [
        prev_hash,
        str(e.seq),
        str(e.employee_id),
        str(e.department_id or ""),
        str(e.points),
        e.kind,
        e.category or "",
        str(e.claim_id or ""),
        str(e.rule_id or ""),
        str(e.campaign_id or ""),
        str(e.reversal_of_id or ""),
        e.memo,
        str(e.created_by_id or ""),
        e.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# -- checkpoints -----------------------------------------------------------------------------------

CHECKPOINT_PREFIX = "ledger-checkpoint v1 "
_CHECKPOINT = re.compile(
    r"ledger-checkpoint v1 seq=(?P<seq>\d{1,18}) hash=(?P<hash>[0-9a-f]{64}) "
    r"at=(?P<at>\S+) key=(?P<key>[0-9a-f]{16}) sig=(?P<sig>[0-9a-f]{64})"
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the chain's entry `seq` had `hash` at `at` (存证).

    `source` says where it was read from (a file, the database); it is not signed.
    """

    seq: int
    hash: str
    at: str
    key_id: str
    signature: str
    source: str = ""

    @property
    def body(self) -> str:
        """The signed part of the line."""
        return f"{CHECKPOINT_PREFIX}seq={self.seq} hash={self.hash} at={self.at} key={self.key_id}"

    @property
    def line(self) -> str:
        """The one-line form kept in files and chat: `ledger-checkpoint v1 seq=… sig=…`."""
        return f"{self.body} sig={self.signature}"

    @property
    def label(self) -> str:
        """How problems name this checkpoint: its time and where it came from."""
        return f"checkpoint of {self.at}" + (f" ({self.source})" if self.source else "")


def sign_checkpoint(key: LedgerKey, seq: int, hash_: str, at: datetime) -> Checkpoint:
    """A checkpoint of entry `seq` with `hash_`, signed now (`at`, shown in its zone)."""
    unsigned = Checkpoint(seq, hash_, at.isoformat(timespec="seconds"), key.key_id, "")
    return Checkpoint(seq, hash_, unsigned.at, key.key_id, key.sign(unsigned.body))


def checkpoint_problem(key: LedgerKey, cp: Checkpoint) -> str | None:
    """Why a checkpoint cannot be trusted with this key, or None when it is genuine."""
    if cp.key_id != key.key_id:
        return f"{cp.label}: signed with key {cp.key_id}, but BOT_LEDGER_KEY is key {key.key_id}"
    if not key.signed(cp.body, cp.signature):
        return f"{cp.label}: signature does not verify with BOT_LEDGER_KEY (altered or forged)"
    return None


def parse_checkpoints(text: str, source: str = "") -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint line in `text` (other lines, e.g. a pasted chat message, are ignored),
    and one problem per line that starts like a checkpoint but is malformed."""
    found: list[Checkpoint] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        start = line.find("ledger-checkpoint ")
        if start < 0:
            continue
        match = _CHECKPOINT.fullmatch(line[start:])
        if match is None:
            where = f"{source} line {number}" if source else f"line {number}"
            problems.append(f"{where}: not a valid ledger checkpoint")
            continue
        found.append(
            Checkpoint(
                int(match["seq"]), match["hash"], match["at"], match["key"], match["sig"], source
            )
        )
    return found, problems
