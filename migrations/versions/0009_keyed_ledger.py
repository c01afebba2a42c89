"""ledger keyed with BOT_LEDGER_KEY, and its published checkpoints

The chain the previous release wrote is plain SHA-256, which anyone who can write the database
can recompute. This revision checks that chain as that release's `ledger verify` did (links,
sequence, content, head) and re-hashes it, in seq order, under BOT_LEDGER_KEY (HMAC, see
bot/services/chain.py); no entry's content changes. A row in `ledger_keyings` records what was
done, and a signed checkpoint of the keyed head (source `upgrade`) is its first checkpoint. If
the unkeyed chain is broken, nothing changes and the upgrade stops with one line saying
where, unless the operator runs `python -m bot db upgrade --rekey-broken-ledger`, which keys it
as it stands and records the problems. An empty ledger needs no key.

`ledger_head.key_id` names the key (a fingerprint, not the key); `ledger_checkpoints` holds the
checkpoints the daily job and `ledger checkpoint` published. Downgrade restores the unkeyed
hashes (no key needed).

Revision ID: 0009
Revises: 0012
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import context, op

from bot.errors import UpgradeRefused
from bot.services.chain import GENESIS_HASH, LedgerKey, legacy_entry_hash, sign_checkpoint

revision = "0009"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 5000
FIELDS = ("id", "seq", "employee_id", "department_id", "points", "kind", "category", "claim_id",
          "rule_id", "campaign_id", "reversal_of_id", "memo", "created_by_id")  # fmt: skip
ENTRIES = sa.table(
    "ledger_entries",
    *(sa.column(name) for name in FIELDS),
    sa.column("created_at", sa.DateTime()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
HEAD = sa.table(
    "ledger_head", sa.column("id"), sa.column("seq"), sa.column("hash"), sa.column("key_id")
)
SET_HASHES = (
    sa.update(ENTRIES)
    .where(ENTRIES.c.id == sa.bindparam("_id"))
    .values(prev_hash=sa.bindparam("_prev"), hash=sa.bindparam("_hash"))
)


def _entries(conn: sa.Connection):
    """Every entry in seq order, in batches, with created_at aware (stored as naive UTC)."""
    last = 0
    while True:
        rows = conn.execute(
            sa.select(ENTRIES).where(ENTRIES.c.seq > last).order_by(ENTRIES.c.seq).limit(BATCH)
        ).all()
        if not rows:
            return
        batch = []
        for row in rows:
            e = SimpleNamespace(**row._mapping)
            e.created_at = e.created_at.replace(tzinfo=UTC)
            batch.append(e)
        yield batch
        last = rows[-1].seq


def _ledger_key() -> LedgerKey:
    secret = context.config.attributes.get("ledger_key")
    if not secret:
        from bot.config import load_config

        secret = load_config().ledger_key  # as the app would find it (env or var/ledger_key)
    return LedgerKey(secret)


def _create_tables() -> None:
    with op.batch_alter_table("ledger_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "ledger_keyings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("legacy_head_hash", sa.String(length=64), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("keyed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def upgrade() -> None:
    _create_tables()
    conn = op.get_bind()
    head = conn.execute(sa.select(HEAD).where(HEAD.c.id == 1)).one()
    if not conn.execute(sa.select(ENTRIES.c.id).limit(1)).first():
        return  # nothing chained yet: the first append records its key
    key = _ledger_key()
    problems: list[str] = []
    legacy_prev, keyed_prev, expected_seq, count, last_seq = GENESIS_HASH, GENESIS_HASH, 1, 0, 0
    for batch in _entries(conn):
        updates = []
        for e in batch:
            count += 1
            if e.seq != expected_seq:
                problems.append(f"seq {expected_seq}: missing (next is {e.seq})")
            if e.prev_hash != legacy_prev:
                problems.append(f"seq {e.seq}: prev_hash does not match entry {e.seq - 1}")
            if legacy_entry_hash(e.prev_hash, e) != e.hash:
                problems.append(f"seq {e.seq}: content does not match its hash (id {e.id})")
            keyed = key.entry_hash(keyed_prev, e)
            updates.append({"_id": e.id, "_prev": keyed_prev, "_hash": keyed})
            legacy_prev, keyed_prev, expected_seq, last_seq = e.hash, keyed, e.seq + 1, e.seq
        conn.execute(SET_HASHES, updates)
    if (head.seq, head.hash) != (last_seq, legacy_prev):
        problems.append(f"ledger_head says seq {head.seq}, chain ends at seq {last_seq}")
    if problems and not context.config.attributes.get("rekey_broken"):
        raise UpgradeRefused(
            f"ledger: the unkeyed chain the previous release wrote is broken ({len(problems)} "
            f"problem(s); first: {problems[0]}); nothing was changed. Restore ledger_entries "
            "from a backup, or key it as it stands with "
            "`python -m bot db upgrade --rekey-broken-ledger` (the problems are recorded)"
        )
    conn.execute(
        sa.update(HEAD).where(HEAD.c.id == 1).values(seq=last_seq, hash=keyed_prev,
                                                     key_id=key.key_id)
    )  # fmt: skip
    now = datetime.now(UTC)
    checkpoint = sign_checkpoint(key, last_seq, keyed_prev, now)
    conn.execute(
        sa.table("ledger_checkpoints", *(sa.column(c) for c in (
            "seq", "hash", "line", "source", "path", "recipients", "created_at"))).insert(),
        {"seq": last_seq, "hash": keyed_prev, "line": checkpoint.line, "source": "upgrade",
         "path": None, "recipients": 0, "created_at": now.replace(tzinfo=None)},
    )  # fmt: skip
    note = "; ".join(problems)
    conn.execute(
        sa.table("ledger_keyings", *(sa.column(c) for c in (
            "entries", "legacy_head_hash", "head_hash", "key_id", "note", "keyed_at"))).insert(),
        {"entries": count, "legacy_head_hash": head.hash, "head_hash": keyed_prev,
         "key_id": key.key_id, "note": (note[:1997] + "...") if len(note) > 2000 else note or None,
         "keyed_at": now.replace(tzinfo=None)},
    )  # fmt: skip


def downgrade() -> None:
    conn = op.get_bind()
    prev, last_seq = GENESIS_HASH, 0
    for batch in _entries(conn):
        updates = []
        for e in batch:
            e.created_at = e.created_at.replace(tzinfo=None)
            legacy = legacy_entry_hash(prev, e)
            updates.append({"_id": e.id, "_prev": prev, "_hash": legacy})
            prev, last_seq = legacy, e.seq
        conn.execute(SET_HASHES, updates)
    conn.execute(sa.update(HEAD).where(HEAD.c.id == 1).values(seq=last_seq, hash=prev))
    op.drop_table("ledger_keyings")
    op.drop_table("ledger_checkpoints")
    # SQLite rebuilds the table to drop a column: keep its CHECK (id = 1), which reflection
    # cannot carry over unnamed.
    with op.batch_alter_table(
        "ledger_head", schema=None, table_args=(sa.CheckConstraint("id = 1"),)
    ) as batch_op:
        batch_op.drop_column("key_id")
