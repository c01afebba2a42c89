"""Revision 0011 adds the change tables and the `change` policy, keeps existing rows, and
downgrades cleanly."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text

from bot.db import alembic_config, upgrade

TABLES = {"module_owners", "changes", "change_impacts", "change_acks", "change_notices",
          "change_retests"}  # fmt: skip


def test_0011_adds_the_change_tables_and_keeps_what_was_there(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0007")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO employees (employee_no, name, role, active, created_at) "
                          "VALUES ('E1', '张伟', 'worker', 1, '2026-11-01 00:00:00')"))  # fmt: skip
    upgrade(url, "0011")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= TABLES
        assert conn.scalar(text("SELECT name FROM employees")) == "张伟"
        assert conn.scalar(text("SELECT title FROM escalation_policies WHERE name = 'change'")) == (
            "变更提醒"
        )
    command.downgrade(alembic_config(url), "0007")
    with engine.connect() as conn:
        assert not TABLES & set(inspect(conn).get_table_names())
        assert (
            conn.scalar(text("SELECT count(*) FROM escalation_policies WHERE name = 'change'")) == 0
        )
        assert conn.scalar(text("SELECT name FROM employees")) == "张伟"
    engine.dispose()
