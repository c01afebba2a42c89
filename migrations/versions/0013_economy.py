"""points economy: campaign rules, suggestions, approval review

Campaigns may be limited to listed rules (campaign_rules). Suggestions (建议) get their table
and the `suggestion` escalation chain (reminder at 48 h, next level and HR at 72 h). Every
approval act is a claim_approvals row, and review_flags keeps why a claim needed a second look;
approved claims so far become stage-1 approvals, so the 30-day signals see their history.

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None

# Literal, so this revision means the same forever (design §15: 72 h, reminder at 48 h).
SUGGESTION_POLICY = (
    "suggestion",
    "建议答复",
    [
        {"wait_minutes": 2880, "notify": "owner"},
        {"wait_minutes": 1440, "notify": "next_level+hr"},
    ],
)


def upgrade() -> None:
    op.create_table(
        "campaign_rules",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"]),
        sa.PrimaryKeyConstraint("campaign_id", "rule_id"),
    )
    op.create_table(
        "suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("implemented_at", sa.DateTime(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.ForeignKeyConstraint(["employee_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.create_index("ix_suggestions_created", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_suggestions_employee", ["employee_id", "created_at"], unique=False
        )
    op.create_table(
        "claim_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=False),
        sa.Column("claimant_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["approver_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"]),
        sa.ForeignKeyConstraint(["claimant_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_id", "stage"),
    )
    with op.batch_alter_table("claim_approvals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_claim_approvals_approver", ["approver_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_claim_approvals_pair", ["claimant_id", "approver_id", "created_at"], unique=False
        )
    op.create_table(
        "review_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["approver_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_id", "signal"),
    )
    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.create_index("ix_review_flags_created", ["created_at"], unique=False)

    conn = op.get_bind()
    policies = sa.table(
        "escalation_policies",
        sa.column("name", sa.String),
        sa.column("title", sa.String),
        sa.column("steps", sa.JSON),
    )
    name, title, steps = SUGGESTION_POLICY
    exists = conn.execute(sa.select(policies.c.name).where(policies.c.name == name)).first()
    if exists is None:
        conn.execute(sa.insert(policies), {"name": name, "title": title, "steps": steps})
    # Approved claims so far: stage-1 approvals by whoever decided them.
    op.execute(
        "INSERT INTO claim_approvals (claim_id, stage, approver_id, claimant_id, points, created_at) "
        "SELECT id, 1, decided_by_id, employee_id, COALESCE(points_credited, 0), decided_at "
        "FROM claims WHERE state = 'approved' AND decided_by_id IS NOT NULL "
        "AND decided_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DELETE FROM escalation_policies WHERE name = 'suggestion'")
    with op.batch_alter_table("review_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_review_flags_created")
    op.drop_table("review_flags")
    with op.batch_alter_table("claim_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_approvals_pair")
        batch_op.drop_index("ix_claim_approvals_approver")
    op.drop_table("claim_approvals")
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_suggestions_employee")
        batch_op.drop_index("ix_suggestions_created")
    op.drop_table("suggestions")
    op.drop_table("campaign_rules")
