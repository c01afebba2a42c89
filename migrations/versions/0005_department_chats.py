"""department chats keyed by platform

A department's group chats move from one column per platform on `departments` to the
`department_chats` table keyed by platform, so a new platform needs no schema change.
Existing chat ids are copied over.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The columns of revision 0001 and the platform each one named.
COLUMNS = (
    ("wecom", "wecom_chatid", 100),
    ("dingtalk", "dingtalk_open_conversation_id", 200),
    ("feishu", "feishu_chat_id", 100),
)


def upgrade() -> None:
    op.create_table(
        "department_chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("department_id", "platform"),
    )
    for platform, column, _width in COLUMNS:
        op.execute(
            sa.text(
                "INSERT INTO department_chats (department_id, platform, chat_id) "
                f"SELECT id, :platform, {column} FROM departments "
                f"WHERE {column} IS NOT NULL AND {column} <> ''"
            ).bindparams(platform=platform)
        )
    with op.batch_alter_table("departments", schema=None) as batch_op:
        for _platform, column, _width in COLUMNS:
            batch_op.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        for _platform, column, width in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.String(length=width), nullable=True))
    for platform, column, _width in COLUMNS:
        op.execute(
            sa.text(
                f"UPDATE departments SET {column} = (SELECT chat_id FROM department_chats c "
                "WHERE c.department_id = departments.id AND c.platform = :platform)"
            ).bindparams(platform=platform)
        )
    op.drop_table("department_chats")
