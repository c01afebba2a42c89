"""The append-only, hash-chained points ledger (积分流水) and the figures derived from it.

Entries are chained with a keyed hash (HMAC under BOT_LEDGER_KEY, which lives outside the
database) and the chain's head is published daily as a signed checkpoint: what that protects
against, and what it does not, is set out in bot/services/chain.py. The key reaches appends
through the session (bot.db.make_session_factory), so callers pass nothing new.

`prove_entries` / `check_proof` make and check the hash-chain proof for a set of entries that
an evidence export carries (bot/services/ledgerproof.py); `ledger verify --checkpoint` accepts
such a proof file as well as checkpoint files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from bot.errors import InvalidInput
from bot.models import Employee, LedgerEntry, LedgerHead
from bot.notices import ledger as notices
from bot.services.chain import (
    GENESIS_HASH,
    Checkpoint,
    LedgerKey,
    LedgerKeyError,
    checkpoint_problem,
    session_key,
)
from bot.services.checkpoints import recorded_checkpoints
from bot.services.ledgerproof import (
    ChainProof,
    check_proof,
    proof_scope_problems,
    prove_employee_entries,
    prove_entries,
)

__all__ = [
    "GENESIS_HASH",
    "ChainProof",
    "Standing",
    "VerifyReport",
    "append_entry",
    "balance",
    "check_proof",
    "department_ranking",
    "prove_employee_entries",
    "prove_entries",
    "recent_entries",
    "reverse_entry",
    "verify_ledger",
]


# Built once: constructing the statement and its cache key on every append cost more Python
# than hashing the entry (bench/_appends.py).
_HEAD_FOR_UPDATE = select(LedgerHead).where(LedgerHead.id == 1).with_for_update()


def append_entry(
    session: Session,
    employee: Employee,
    points: int,
    *,
    kind: str,
    memo: str,
    now: datetime,
    category: str | None = None,
    claim_id: int | None = None,
    rule_id: int | None = None,
    campaign_id: int | None = None,
    reversal_of_id: int | None = None,
    created_by_id: int | None = None,
) -> LedgerEntry:
    """Append one entry at the end of the chain (serialized on the ledger_head row), hashed
    with the session's ledger key.

    Raises:
        LedgerKeyError: the session has no key, or the ledger is keyed with another one (a
            lost or swapped BOT_LEDGER_KEY: nothing is written under the wrong key).
    """
    key = session_key(session)
    head = session.scalars(_HEAD_FOR_UPDATE).one()
    if head.key_id != key.key_id:
        if head.key_id is not None:
            raise LedgerKeyError(
                f"BOT_LEDGER_KEY is key {key.key_id}, but the ledger is keyed with key "
                f"{head.key_id}: restore the key the ledger was keyed with"
            )
        head.key_id = key.key_id  # the first keyed entry of this database
    entry = LedgerEntry(
        seq=head.seq + 1,
        employee_id=employee.id,
        department_id=employee.department_id,
        points=points,
        kind=kind,
        category=category,
        claim_id=claim_id,
        rule_id=rule_id,
        campaign_id=campaign_id,
        reversal_of_id=reversal_of_id,
        memo=memo[:200],
        created_by_id=created_by_id,
        created_at=now,
        prev_hash=head.hash,
        hash="",
    )
    entry.hash = key.entry_hash(head.hash, entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    session.flush()
    return entry


def reverse_entry(
    session: Session, entry: LedgerEntry, *, memo: str, now: datetime, by: Employee | None
) -> LedgerEntry:
    """Correct an entry by appending its negation (entries are never edited).

    Raises:
        InvalidInput: the entry is itself a reversal or was already reversed.
    """
    if entry.reversal_of_id is not None:
        raise InvalidInput(notices.REVERSAL_OF_REVERSAL)
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reversal_of_id == entry.id)):
        raise InvalidInput(notices.ALREADY_REVERSED)
    employee = session.get(Employee, entry.employee_id)
    assert employee is not None
    return append_entry(
        session,
        employee,
        -entry.points,
        kind="reversal",
        memo=memo,
        now=now,
        category=entry.category,
        claim_id=entry.claim_id,
        rule_id=entry.rule_id,
        campaign_id=entry.campaign_id,
        reversal_of_id=entry.id,
        created_by_id=by.id if by else None,
    )


# The read queries below are built once, with bind parameters: building a select and computing
# its cache key on every call cost more Python (~0.3 ms for balance, ~1.5 ms for the ranking)
# than running the indexed query (issue 3 benchmark, `python -m bench ledger`).
# balance() uses the table's columns (Core): its result is one number, and the ORM result layer
# alone added ~15 % to a ~0.2 ms query on PostgreSQL.
_LEDGER = LedgerEntry.__table__
_BALANCE = select(func.coalesce(func.sum(_LEDGER.c.points), 0)).where(
    _LEDGER.c.employee_id == bindparam("employee_id")
)
_BALANCE_SINCE = _BALANCE.where(_LEDGER.c.created_at >= bindparam("since"))


def balance(session: Session, employee_id: int, since: datetime | None = None) -> int:
    """Sum of the employee's entries (optionally from `since`)."""
    if since is None:
        return int(session.scalar(_BALANCE, {"employee_id": employee_id}) or 0)
    params = {"employee_id": employee_id, "since": since}
    return int(session.scalar(_BALANCE_SINCE, params) or 0)


def recent_entries(session: Session, employee_id: int, limit: int = 5) -> list[LedgerEntry]:
    """The employee's newest entries first."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.employee_id == employee_id)
            .order_by(LedgerEntry.seq.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """One line of a leaderboard."""

    employee_id: int
    name: str
    points: int


# Sum per employee first (index-only scan of ix_ledger_department_created), then join only those
# few rows to employees for the names. Grouping after the join made PostgreSQL hash the whole
# employees table on every call (~1 ms at 10,000 employees, growing with headcount).
_TOTALS = (
    select(LedgerEntry.employee_id, func.sum(LedgerEntry.points).label("total"))
    .where(
        LedgerEntry.department_id == bindparam("department_id"),
        LedgerEntry.created_at >= bindparam("start"),
        LedgerEntry.created_at < bindparam("end"),
    )
    .group_by(LedgerEntry.employee_id)
    .subquery("totals")
)
_RANKING = (
    select(_TOTALS.c.employee_id, Employee.name, _TOTALS.c.total)
    .join(Employee, Employee.id == _TOTALS.c.employee_id)
    .order_by(_TOTALS.c.total.desc(), Employee.name, _TOTALS.c.employee_id)
)
_RANKING_LIMITED = _RANKING.limit(bindparam("limit", type_=Integer()))


def department_ranking(
    session: Session, department_id: int, start: datetime, end: datetime, limit: int | None = None
) -> list[Standing]:
    """Points earned in [start, end) per member of a department, best first (ties by name).

    Uses the department recorded on each entry (where the points were earned), so a transfer
    does not move past points between departments.
    """
    params: dict[str, object] = {"department_id": department_id, "start": start, "end": end}
    query = _RANKING
    if limit is not None:
        query, params["limit"] = _RANKING_LIMITED, limit
    return [Standing(r.employee_id, r.name, int(r.total)) for r in session.execute(query, params)]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of recomputing the chain and checking it against checkpoints and proofs."""

    entries: int
    problems: list[str]
    checkpoints: list[Checkpoint] = field(default_factory=list)  # genuine ones checked
    proofs: int = 0

    @property
    def ok(self) -> bool:
        """True when the chain and head are intact and hold what every checkpoint saw."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class _Expect:
    """Entry `seq` must have `hash`, says `who` (a checkpoint or a proof, the `noun`)."""

    hash: str
    who: str
    noun: str


def _expectations(
    key: LedgerKey, checkpoints: list[Checkpoint], proofs: list[ChainProof], problems: list[str]
) -> tuple[dict[int, list[_Expect]], list[Checkpoint]]:
    """What each genuine checkpoint and proof says the chain holds, by seq; the genuine
    checkpoints; a problem per checkpoint that is not genuine."""
    expected: dict[int, list[_Expect]] = {}
    genuine: list[Checkpoint] = []
    seen: set[str] = set()
    for cp in checkpoints:
        if cp.line in seen:
            continue  # the same checkpoint from the database and from a file
        seen.add(cp.line)
        problem = checkpoint_problem(key, cp)
        if problem:
            problems.append(problem)
            continue
        genuine.append(cp)
        expected.setdefault(cp.seq, []).append(_Expect(cp.hash, cp.label, "checkpoint"))
    for proof in proofs:
        said = [(e["seq"], e["hash"]) for e in proof.entries]
        said += [(e["seq"] + 1, e["next_hash"]) for e in proof.entries if e["next_hash"]]
        said.append((proof.checkpoint.seq, proof.checkpoint.hash))
        for seq, hash_ in said:
            expected.setdefault(seq, []).append(_Expect(hash_, proof.label, "proof"))
    return expected, genuine


def verify_ledger(
    session: Session,
    *,
    checkpoints: Iterable[Checkpoint] = (),
    proofs: Iterable[ChainProof] = (),
    recorded: bool = True,
    batch: int = 5000,
) -> VerifyReport:
    """Recompute every keyed hash in seq order and check links, sequence, reversals and the
    head row; check that the chain still holds what each checkpoint (those given and, with
    `recorded`, those in the database) and each evidence proof saw.

    Raises:
        LedgerKeyError: the session carries no ledger key.
    """
    key = session_key(session)
    problems: list[str] = []
    checkpoints, proofs = list(checkpoints), list(proofs)
    if recorded:
        found, bad = recorded_checkpoints(session)
        checkpoints += found
        problems += bad
    for proof in proofs:
        problems += check_proof(proof, key)
    expected, genuine = _expectations(key, checkpoints, proofs, problems)
    head = session.get(LedgerHead, 1)
    wrong_key = head is not None and head.key_id not in (None, key.key_id)
    if head is not None and wrong_key:
        problems.append(
            f"ledger_head: the chain is keyed with key {head.key_id}, but BOT_LEDGER_KEY is "
            f"key {key.key_id}; entry hashes were not checked"
        )
    prev_hash, expected_seq, count, last_seq = GENESIS_HASH, 1, 0, 0
    walked = 0  # problems found by the walk
    while True:
        rows = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.seq > last_seq)
            .order_by(LedgerEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        before = len(problems)
        for e in rows:
            count += 1
            if e.seq != expected_seq:
                problems.append(f"seq {expected_seq}: missing (next is {e.seq})")
            if e.prev_hash != prev_hash:
                problems.append(f"seq {e.seq}: prev_hash does not match entry {e.seq - 1}")
            if not wrong_key and key.entry_hash(e.prev_hash, e) != e.hash:
                problems.append(f"seq {e.seq}: content does not match its hash (id {e.id})")
            for exp in expected.pop(e.seq, ()):
                if exp.hash != e.hash:
                    problems.append(
                        f"{exp.who}: entry seq {e.seq} has a different hash than the "
                        f"{exp.noun} saw (history was rewritten)"
                    )
            prev_hash, expected_seq, last_seq = e.hash, e.seq + 1, e.seq
        session.expunge_all()
        walked += len(problems) - before
        if walked > 100:
            problems.append("too many problems; stopped")
            break
    for seq in sorted(expected):
        for exp in expected[seq]:
            if seq > last_seq:
                problems.append(
                    f"{exp.who}: saw entry seq {seq}, but the chain ends at seq {last_seq} "
                    "(entries were removed)"
                )
            else:
                problems.append(f"{exp.who}: saw entry seq {seq}, which is missing")
    if head is None:
        problems.append("ledger_head row missing")
    elif head.seq != last_seq or head.hash != prev_hash:
        problems.append(f"ledger_head says seq {head.seq}, chain ends at seq {last_seq}")
    orig = aliased(LedgerEntry)
    for seq in session.scalars(
        select(LedgerEntry.seq)
        .join(orig, orig.id == LedgerEntry.reversal_of_id)
        .where(LedgerEntry.points != -orig.points)
    ):
        problems.append(f"seq {seq}: reversal does not negate the original entry")
    for proof in proofs:
        problems += proof_scope_problems(session, proof)
    return VerifyReport(count, problems, genuine, len(proofs))
