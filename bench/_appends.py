"""Appends for `python -m bench ledger` (issue 15): the keyed `append_entry` against the previous
release's unkeyed append, alternating on the same loaded ledger, inside one transaction that is
rolled back (the data stays as loaded), plus the two hash functions alone."""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.db import make_session_factory
from bot.models import Employee, LedgerEntry, LedgerHead
from bot.services.chain import LedgerKey, legacy_entry_hash
from bot.services.ledger import append_entry

# A fixed key: the bench database is generated and rebuilt at will, never a real ledger.
BENCH_KEY = "bench-ledger-key-not-a-secret-" + "0" * 34


@dataclass
class AppendResult:
    """Medians of one backend's appends and hashes."""

    backend: str
    appends: int
    keyed_ms: float
    unkeyed_ms: float
    keyed_hash_us: float
    unkeyed_hash_us: float

    @property
    def ratio(self) -> float:
        return self.keyed_ms / self.unkeyed_ms if self.unkeyed_ms else float("inf")


def append_unkeyed(
    session: Session, employee: Employee, points: int, *, kind: str, memo: str, now: datetime,
    category: str | None = None,
) -> LedgerEntry:  # fmt: skip
    """The previous release's append_entry as it was: the same statements, plain SHA-256."""
    head = session.scalars(select(LedgerHead).where(LedgerHead.id == 1).with_for_update()).one()
    entry = LedgerEntry(
        seq=head.seq + 1, employee_id=employee.id, department_id=employee.department_id,
        points=points, kind=kind, category=category, claim_id=None, rule_id=None,
        campaign_id=None, reversal_of_id=None, memo=memo[:200], created_by_id=None,
        created_at=now, prev_hash=head.hash, hash="",
    )  # fmt: skip
    entry.hash = legacy_entry_hash(head.hash, entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    session.flush()
    return entry


def _hash_us(fn, rounds: int = 5, calls: int = 5000) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times) * 1e6


def measure_appends(
    backend: str, engine: Engine, now: datetime, count: int, employees: int
) -> AppendResult:
    """`count` appends of each kind, alternating which goes first."""
    rng = random.Random(15)
    factory = make_session_factory(engine, ledger_key=BENCH_KEY)
    keyed: list[float] = []
    unkeyed: list[float] = []
    with factory() as session:
        people = [session.get(Employee, rng.randrange(1, employees + 1)) for _ in range(count + 3)]
        pair = ((append_entry, keyed), (append_unkeyed, unkeyed))
        for i, person in enumerate(people):
            assert person is not None
            for fn, sink in pair if i % 2 == 0 else pair[::-1]:
                t0 = time.perf_counter()
                entry = fn(session, person, 5, kind="claim", memo="首检 bench", now=now,
                           category="质量")  # fmt: skip
                elapsed = time.perf_counter() - t0
                if i >= 3:  # the first rounds warm caches and the statement cache
                    sink.append(elapsed)
                session.expunge(entry)  # one append per session, as in a request
        session.rollback()
        sample = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq).limit(1)).one()
    key = LedgerKey(BENCH_KEY)
    prev = "0" * 64
    return AppendResult(
        backend,
        count,
        statistics.median(keyed) * 1000,
        statistics.median(unkeyed) * 1000,
        _hash_us(lambda: key.entry_hash(prev, sample)),
        _hash_us(lambda: legacy_entry_hash(prev, sample)),
    )


def report_appends(results: list[AppendResult]) -> None:
    """Print the append medians and the keyed/unkeyed ratio per backend."""
    print("\nappends (append_entry, one transaction, rolled back), median per append")
    print(f"{'backend':<11}{'appends':>8}{'keyed ms':>10}{'unkeyed ms':>12}{'ratio':>7}"
          f"{'keyed hash µs':>15}{'unkeyed hash µs':>17}")  # fmt: skip
    for r in results:
        print(
            f"{r.backend:<11}{r.appends:>8}{r.keyed_ms:>10.3f}{r.unkeyed_ms:>12.3f}"
            f"{r.ratio:>7.2f}{r.keyed_hash_us:>15.2f}{r.unkeyed_hash_us:>17.2f}"
        )
