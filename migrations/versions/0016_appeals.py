"""appeals: one appeal per rejected claim, and the `appeal` escalation policy

Adds `appeals` (design §15) and the `appeal` chain: the reviewer is reminded a day before the
due time (three workdays after the appeal, computed on the workday calendar when the ask
opens; its anchor is placed a day before that), and HR gets the ask at the due time. No
existing row changes.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

# Kept literal so this revision means the same forever.
POLICY = (
    "appeal",
    "申诉期限",
    [{"wait_minutes": 0, "notify": "owner"}, {"wait_minutes": 1440, "notify": "hr"}],
)


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("rejected_by_id", sa.Integer(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("points_credited", sa.Integer(), nullable=True),
        sa.Column("ledger_entry_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["ledger_entry_id"], ["ledger_entries.id"]),
        sa.ForeignKeyConstraint(["rejected_by_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_id"),
        sa.UniqueConstraint("ledger_entry_id"),
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.create_index("ix_appeals_employee_created", ["employee_id", "created_at"])
        batch_op.create_index(batch_op.f("ix_appeals_state"), ["state"])
    policies = sa.table(
        "escalation_policies",
        sa.column("name", sa.String),
        sa.column("title", sa.String),
        sa.column("steps", sa.JSON),
    )
    name, title, steps = POLICY
    op.bulk_insert(policies, [{"name": name, "title": title, "steps": steps}])


def downgrade() -> None:
    op.execute(f"DELETE FROM escalation_policies WHERE name = '{POLICY[0]}'")
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appeals_state"))
        batch_op.drop_index("ix_appeals_employee_created")
    op.drop_table("appeals")
