"""Checkpoints of the ledger's head (账本存证): signing, recording, files, and the spot check
made before signing. What a checkpoint proves is in bot/services/chain.py."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from bot.services.chain import (
    Checkpoint,
    LedgerKey,
    checkpoint_problem,
    parse_checkpoints,
    session_key,
    sign_checkpoint,
)

FILE_PATTERN = "ledger-checkpoint-*.txt"
FILE_HEADER = (
    "# Points-ledger checkpoint: entry seq N of the chain had hash H, signed with BOT_LEDGER_KEY.\n"
    "# Keep it where whoever can write the database cannot reach; check the database against it\n"
    "# with: python -m bot ledger verify --checkpoint THIS_FILE\n"
)


class EmptyLedger(Exception):
    """There is no entry to checkpoint yet."""


def head_checkpoint(session: Session, at: datetime) -> Checkpoint:
    """A signed checkpoint of the newest entry, as of `at` (shown in `at`'s zone).

    Signs the newest entry's own hash, not the head row's, so a checkpoint never vouches for
    a head row nobody's entry produced.

    Raises:
        EmptyLedger: no entries yet.
    """
    last = session.execute(
        select(LedgerEntry.seq, LedgerEntry.hash).order_by(LedgerEntry.seq.desc()).limit(1)
    ).first()
    if last is None:
        raise EmptyLedger()
    return sign_checkpoint(session_key(session), last.seq, last.hash, at)


def record_checkpoint(
    session: Session,
    checkpoint: Checkpoint,
    *,
    source: str,
    now: datetime,
    path: Path | None = None,
    recipients: int = 0,
) -> LedgerCheckpoint:
    """Remember a published checkpoint (`ledger verify` checks these rows too)."""
    row = LedgerCheckpoint(
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        line=checkpoint.line,
        source=source,
        path=str(path) if path else None,
        recipients=recipients,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def last_sent(session: Session) -> LedgerCheckpoint | None:
    """The newest checkpoint that reached someone's chat."""
    return session.scalars(
        select(LedgerCheckpoint)
        .where(LedgerCheckpoint.recipients > 0)
        .order_by(LedgerCheckpoint.id.desc())
        .limit(1)
    ).first()


def recorded_checkpoints(session: Session) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints recorded in the database, read back from their signed lines."""
    found: list[Checkpoint] = []
    problems: list[str] = []
    for row_id, line in session.execute(
        select(LedgerCheckpoint.id, LedgerCheckpoint.line).order_by(LedgerCheckpoint.id)
    ):
        parsed, bad = parse_checkpoints(line, f"database row {row_id}")
        if not parsed and not bad:
            bad = [f"database row {row_id}: not a ledger checkpoint"]
        found += parsed
        problems += bad
    return found, problems


def append_checkpoint(path: Path, checkpoint: Checkpoint) -> Path:
    """Add the checkpoint's line to a file (created with a short header if missing); a file
    may hold many checkpoints, and nothing already in it is overwritten.

    Raises:
        OSError: the file cannot be created or written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    with open(path, "a", encoding="utf-8") as f:
        f.write((FILE_HEADER if fresh else "") + checkpoint.line + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path


def write_checkpoint_file(directory: Path, checkpoint: Checkpoint, day: str) -> Path:
    """Add the checkpoint to `directory/ledger-checkpoint-DAY.txt` (one file per day).

    Raises:
        OSError: the directory cannot be created or written.
    """
    return append_checkpoint(directory / f"ledger-checkpoint-{day}.txt", checkpoint)


def read_checkpoint_files(paths: Iterable[Path]) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint line in the files, and one problem per unreadable file or bad line."""
    found: list[Checkpoint] = []
    problems: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is fine
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read ({type(exc).__name__})")
            continue
        parsed, bad = parse_checkpoints(text, str(path))
        found += parsed
        problems += bad
    return found, problems


def directory_files(directory: Path) -> list[Path]:
    """The checkpoint files the daily job wrote into `directory`, oldest first."""
    return sorted(directory.glob(FILE_PATTERN)) if directory.is_dir() else []


def spot_check(session: Session, key: LedgerKey, earlier: Iterable[Checkpoint]) -> list[str]:
    """What must hold before a new checkpoint is signed, cheaply (a few indexed reads): the
    newest entry's hash is its keyed hash, the head row points at it, and every earlier genuine
    checkpoint's entry is still in the chain with the same hash. `ledger verify` checks all."""
    problems: list[str] = []
    head = session.get(LedgerHead, 1)
    last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).first()
    if head is not None and head.key_id not in (None, key.key_id):
        problems.append(f"the ledger is keyed with key {head.key_id}, not BOT_LEDGER_KEY")
    if last is not None and key.entry_hash(last.prev_hash, last) != last.hash:
        problems.append(f"seq {last.seq}: content does not match its hash (id {last.id})")
    if head is not None and last is not None and (head.seq, head.hash) != (last.seq, last.hash):
        problems.append(f"ledger_head says seq {head.seq}, chain ends at seq {last.seq}")
    for cp in earlier:
        if checkpoint_problem(key, cp) is not None:
            continue  # not ours to vouch for; verify reports it
        seen = session.scalar(select(LedgerEntry.hash).where(LedgerEntry.seq == cp.seq))
        if seen is None:
            problems.append(f"{cp.label}: saw entry seq {cp.seq}, which the chain no longer has")
        elif seen != cp.hash:
            problems.append(f"{cp.label}: entry seq {cp.seq} has a different hash than it saw")
    return problems
