"""engineering changes

Module owners, changes with their impact matrix, owners' confirmations, notices and retests
(design §13), and the `change` escalation policy their asks follow: the owner reminded after
2 hours, the owner's supervisor copied after 24 (literal here, so this revision means the same
forever).

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

POLICY = {
    "name": "change",
    "title": "变更提醒",
    "steps": [
        {"wait_minutes": 120, "notify": "owner"},
        {"wait_minutes": 1320, "notify": "owner+supervisor"},
    ],
}


def upgrade() -> None:
    op.create_table(
        "module_owners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("module", "employee_id"),
    )
    with op.batch_alter_table("module_owners", schema=None) as batch_op:
        batch_op.create_index("ix_module_owners_employee_id", ["employee_id"], unique=False)
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("retest_due_hours", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("first_retest_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id"),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_created_at", ["created_at"], unique=False)
    op.create_table(
        "change_impacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(length=100), nullable=True),
        sa.Column("object", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("compensation_points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["change_id"], ["changes.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("change_impacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_change_impacts_change_owner", ["change_id", "owner_id"], unique=False
        )
    op.create_table(
        "change_acks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("negotiation_reason", sa.String(length=500), nullable=True),
        sa.Column("negotiation_ask_id", sa.Integer(), nullable=True),
        sa.Column("author_reply", sa.String(length=20), nullable=True),
        sa.Column("author_reason", sa.String(length=500), nullable=True),
        sa.Column("replied_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["changes.id"]),
        sa.ForeignKeyConstraint(["negotiation_ask_id"], ["asks.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("change_id", "owner_id"),
    )
    op.create_table(
        "change_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("response", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["changes.id"]),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("change_id", "employee_id"),
    )
    op.create_table(
        "change_retests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("reported_by_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["change_id"], ["changes.id"]),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.ForeignKeyConstraint(["ledger_entry_id"], ["ledger_entries.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["reported_by_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("change_id", "owner_id"),
    )
    policies = sa.table(
        "escalation_policies",
        sa.column("name", sa.String),
        sa.column("title", sa.String),
        sa.column("steps", sa.JSON),
    )
    op.bulk_insert(policies, [POLICY])


def downgrade() -> None:
    op.execute("DELETE FROM escalation_policies WHERE name = 'change'")
    op.drop_table("change_retests")
    op.drop_table("change_notices")
    op.drop_table("change_acks")
    with op.batch_alter_table("change_impacts", schema=None) as batch_op:
        batch_op.drop_index("ix_change_impacts_change_owner")
    op.drop_table("change_impacts")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_created_at")
    op.drop_table("changes")
    with op.batch_alter_table("module_owners", schema=None) as batch_op:
        batch_op.drop_index("ix_module_owners_employee_id")
    op.drop_table("module_owners")
