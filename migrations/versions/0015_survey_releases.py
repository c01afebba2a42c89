"""survey releases and the survey reminder policy

Adds `survey_releases` (design §14: a subject's 360 results as released to them and their
supervisor, once at least three raters have finished and again only after three more) and the
`survey_reminder` escalation policy (one reminder to the rater a day after a question card
went out). No existing rows change.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

POLICY = ("survey_reminder", "问卷提醒", [{"wait_minutes": 1440, "notify": "owner"}])


def upgrade() -> None:
    op.create_table(
        "survey_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("raters", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("survey_id", "subject_id", "raters"),
    )
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
    op.drop_table("survey_releases")
