"""evidence fingerprints for photo reuse

Every evidence photo gets the perceptual hashes of four centre crops, each cut into four
indexed band keys (bot/services/photohash.py), so a reused photo, even cropped, framed, mirrored
or turned, is found by index instead of a scan over every claim.

Existing photos are fingerprinted here from the stored files under BOT_MEDIA_DIR (default
BOT_VAR_DIR/media, as the app resolves it); JPEGs are decoded at reduced scale, a few
milliseconds each. A file that is missing or unreadable is reported and skipped: its claims
stay protected by their sha256, as before.

Revision ID: 0008
Revises: 0015
Create Date: 2026-11-30 02:00:00
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0015"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
BATCH = 500


def upgrade() -> None:
    op.create_table(
        "evidence_hashes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("crop", sa.SmallInteger(), nullable=False),
        sa.Column("signs", sa.LargeBinary(length=32), nullable=False),
        sa.Column("band0", sa.Integer(), nullable=False),
        sa.Column("band1", sa.Integer(), nullable=False),
        sa.Column("band2", sa.Integer(), nullable=False),
        sa.Column("band3", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence_hashes", schema=None) as batch_op:
        for column in ("evidence_id", "band0", "band1", "band2", "band3"):
            batch_op.create_index(
                batch_op.f(f"ix_evidence_hashes_{column}"), [column], unique=False
            )
    _fingerprint_existing_photos()


def _media_dir() -> Path:
    var_dir = Path(os.environ.get("BOT_VAR_DIR") or "var")
    return Path(os.environ.get("BOT_MEDIA_DIR") or var_dir / "media").resolve()


def _fingerprint_existing_photos() -> None:
    from bot.services.photohash import BANDS, stored_photo_hashes

    conn = op.get_bind()
    table = sa.table(
        "evidence_hashes",
        sa.column("evidence_id", sa.Integer),
        sa.column("crop", sa.SmallInteger),
        sa.column("signs", sa.LargeBinary),
        *(sa.column(f"band{k}", sa.Integer) for k in range(BANDS)),
    )
    root = _media_dir()
    done = unreadable = 0
    last_id = 0
    while True:
        rows = conn.execute(
            sa.text("SELECT id, storage_key FROM evidence WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last_id, "n": BATCH},
        ).all()
        if not rows:
            break
        values = []
        for evidence_id, key in rows:
            last_id = evidence_id
            path = (root / key).resolve()
            try:
                if not path.is_relative_to(root):
                    raise ValueError("storage key outside the media directory")
                hashes = stored_photo_hashes(path)
            except Exception as exc:  # a missing or broken file costs its fingerprint only
                unreadable += 1
                log.warning("evidence %s: not fingerprinted (%s)", evidence_id, exc)
                continue
            done += 1
            for h in hashes:
                keys = h.bands()
                values.append(
                    {"evidence_id": evidence_id, "crop": h.crop, "signs": h.full}
                    | {f"band{k}": keys[k] for k in range(BANDS)}
                )
        if values:
            conn.execute(sa.insert(table), values)
    if done or unreadable:
        log.info("evidence fingerprints: %d photos done, %d unreadable", done, unreadable)


def downgrade() -> None:
    with op.batch_alter_table("evidence_hashes", schema=None) as batch_op:
        for column in ("band3", "band2", "band1", "band0", "evidence_id"):
            batch_op.drop_index(batch_op.f(f"ix_evidence_hashes_{column}"))
    op.drop_table("evidence_hashes")
