"""asks: one engine for every "answer this by then"

Tasks keep what must be done; their reminders and escalation move to `asks` (one per task,
kind task_alert) with `ask_log` replacing `escalation_log`. Claims waiting for approval get
their approval ask, which takes over the approval-reminder tasks and their log, so cards
already delivered (keys claim:<id>, task:<id>:…) are still brought up to date when answered.
The literal choices below are what the code offered at this revision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:30:00
"""

from __future__ import annotations

import json
import os
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CLAIM_CHOICES = [
    {"key": "approve", "label": "通过", "style": "primary", "outcome": "已通过", "needs": None,
     "reasons": [], "prompt_title": None, "prompt": None, "cancelled": None, "final": True},
    {"key": "reject", "label": "驳回", "style": "danger", "outcome": "已驳回", "needs": "reason",
     "reasons": ["照片不清晰", "不符合规则", "重复申领"], "prompt_title": "驳回申领 #{id}",
     "prompt": "请选择驳回原因，或直接回复文字说明（申领 #{id}）。",
     "cancelled": "已取消驳回，申领 #{id} 仍待审核。", "final": True},
]  # fmt: skip
TASK_CHOICES = [
    {"key": "ack", "label": "知道了·处理中", "style": "primary", "outcome": "已确认", "needs": None,
     "reasons": [], "prompt_title": None, "prompt": None, "cancelled": None, "final": False},
    {"key": "done", "label": "已完成", "style": "default", "outcome": "已完成", "needs": None,
     "reasons": [], "prompt_title": None, "prompt": None, "cancelled": None, "final": True},
]  # fmt: skip
TASK_STATES = {"open": "open", "acknowledged": "acknowledged", "done": "answered"}


def _steps(raw: object) -> list[dict]:
    steps = json.loads(raw) if isinstance(raw, str) else (raw or [])
    out, at = [], 0
    for step in steps:
        at += int(step.get("wait_minutes", 0))
        snap = {"at": at, "notify": step["notify"]}
        if step.get("repeat"):
            snap["repeat"] = int(step["repeat"])
        out.append(snap)
    return out


def _choices(template: list[dict], claim_id: int) -> list[dict]:
    return [
        {
            k: (v.format(id=claim_id) if isinstance(v, str) and "{id}" in v else v)
            for k, v in c.items()
        }
        for c in template
    ]


def upgrade() -> None:
    op.create_table(
        "asks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("delegate_ids", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("told_may_answer", sa.Boolean(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("anchor_at", sa.DateTime(), nullable=False),
        sa.Column("policy", sa.String(length=50), nullable=True),
        sa.Column("policy_title", sa.String(length=100), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_step_at", sa.DateTime(), nullable=True),
        sa.Column("answer", sa.String(length=30), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("answer_data", sa.JSON(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["answered_by_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["owner_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("asks", schema=None) as batch_op:
        batch_op.create_index("ix_asks_next_step_at", ["next_step_at"], unique=False)
        batch_op.create_index("ix_asks_owner_state", ["owner_id", "state"], unique=False)
        batch_op.create_index("ix_asks_subject", ["subject"], unique=False)
    op.create_table(
        "ask_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ask_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("card_key", sa.String(length=100), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ask_id"], ["asks.id"]),
        sa.ForeignKeyConstraint(["recipient_id"], ["employees.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ask_log", schema=None) as batch_op:
        batch_op.create_index("ix_ask_log_ask", ["ask_id", "id"], unique=False)

    _move_data(op.get_bind())

    op.drop_table("escalation_log")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_next_step_at")
        batch_op.drop_column("next_step_at")
        batch_op.drop_column("step")
        batch_op.drop_column("policy_id")


def _move_data(conn: sa.Connection) -> None:
    """Open asks for existing tasks and pending claims, and move the escalation log over."""
    tz = ZoneInfo(os.environ.get("BOT_TIMEZONE") or "Asia/Shanghai")
    meta = sa.MetaData()
    meta.reflect(conn, only=["asks", "ask_log", "tasks", "escalation_log", "escalation_policies",
                             "claims", "employees", "rules", "cards", "settings",
                             "conversation_states"])  # fmt: skip
    t = meta.tables
    policies = {p.id: p for p in conn.execute(sa.select(t["escalation_policies"]))}
    by_name = {p.name: p for p in policies.values()}
    names = dict(conn.execute(sa.select(t["employees"].c.id, t["employees"].c.name)).all())
    ask_of_task: dict[int, int] = {}
    ask_of_claim: dict[int, int] = {}

    def insert_ask(values: dict) -> int:
        base = {"delegate_ids": [], "severity": "normal", "told_may_answer": False,
                "anonymous": False, "due_at": None, "policy": None, "policy_title": None,
                "steps": [], "step": 0, "next_step_at": None, "answer": None, "reason": None,
                "answer_data": None, "answered_by_id": None, "answered_at": None,
                "acknowledged_by_id": None, "acknowledged_at": None}  # fmt: skip
        base.update(values)
        return conn.execute(sa.insert(t["asks"]).returning(t["asks"].c.id), base).scalar_one()

    # Pending claims: their approval asks (the cards already sent keep their keys).
    setting = conn.execute(
        sa.select(t["settings"].c.value).where(t["settings"].c.key == "approval_reminder")
    ).scalar()
    setting = json.loads(setting) if isinstance(setting, str) else (setting or {})
    after = timedelta(hours=float(setting.get("after_hours", 4)))
    approval = by_name.get("approval")
    claims, emp, rules = t["claims"], t["employees"], t["rules"]
    pending = conn.execute(
        sa.select(claims.c.id, claims.c.employee_id, claims.c.approver_id, claims.c.created_at,
                  emp.c.name, rules.c.code, rules.c.title)
        .join(emp, emp.c.id == claims.c.employee_id)
        .join(rules, rules.c.id == claims.c.rule_id)
        .where(claims.c.state == "pending", claims.c.approver_id.is_not(None))
    ).all()  # fmt: skip
    for c in pending:
        approver = conn.execute(sa.select(emp).where(emp.c.id == c.approver_id)).first()
        delegates = []
        if approver is not None and approver.delegate_id and approver.delegate_id != c.employee_id:
            delegates = [approver.delegate_id]
        card = conn.execute(
            sa.select(t["cards"].c.payload).where(t["cards"].c.key == f"claim:{c.id}")
        ).scalar()
        card = json.loads(card) if isinstance(card, str) else dict(card or {})
        content = {k: v for k, v in card.items() if k not in ("type", "buttons", "key", "status")}
        content.setdefault("title", f"待审核申领 #{c.id}")
        steps = _steps(approval.steps) if approval is not None else []
        anchor = c.created_at + after
        ask_id = insert_ask({
            "kind": "claim_approval", "subject": f"claim:{c.id}", "owner_id": c.approver_id,
            "delegate_ids": delegates, "title": f"审核申领 #{c.id}：{c.name} {c.code} {c.title}",
            "card": content, "choices": _choices(CLAIM_CHOICES, c.id), "state": "open",
            "created_at": c.created_at, "anchor_at": anchor, "policy": "approval" if steps else None,
            "policy_title": approval.title if approval is not None else None, "steps": steps,
            "next_step_at": anchor + timedelta(minutes=steps[0]["at"]) if steps else None,
        })  # fmt: skip
        ask_of_claim[c.id] = ask_id
        for person, key in [(c.approver_id, f"claim:{c.id}")] + [
            (d, f"claim:{c.id}:{d}") for d in delegates
        ]:
            conn.execute(sa.insert(t["ask_log"]), {
                "ask_id": ask_id, "step": 0, "action": "sent", "recipient_id": person,
                "card_key": key, "result": "done", "detail": None, "created_at": c.created_at,
            })  # fmt: skip

    # Tasks: each gets its alert ask; approval reminders hand their chain to the claim's ask.
    tasks = t["tasks"]
    for task in conn.execute(sa.select(tasks).order_by(tasks.c.id)).all():
        policy = policies.get(task.policy_id)
        if task.kind == "approval" and task.source == "claim":
            claim_ask = ask_of_claim.get(int(task.external_id or 0))
            if claim_ask is not None and task.state == "open":
                conn.execute(
                    sa.update(t["asks"]).where(t["asks"].c.id == claim_ask)
                    .values(step=task.step, next_step_at=task.next_step_at)
                )  # fmt: skip
            if claim_ask is not None:
                ask_of_task[task.id] = claim_ask
            continue
        steps = _steps(policy.steps) if policy is not None else []
        anchor = {"overdue": task.due_at, "stale": task.last_update_at}.get(
            policy.name if policy is not None else ""
        ) or task.created_at
        fields = [["负责人", names.get(task.owner_id, "-")]]
        if task.due_at is not None:
            due = task.due_at.replace(tzinfo=UTC).astimezone(tz)
            fields.append(["截止", due.strftime("%m-%d %H:%M")])
        fields.append(["级别", "紧急" if task.severity == "urgent" else "普通"])
        state = TASK_STATES.get(task.state, "closed")
        ask_of_task[task.id] = insert_ask({
            "kind": "task_alert", "subject": f"task:{task.id}", "owner_id": task.owner_id,
            "title": task.title, "card": {"title": task.title,
            "lines": [task.detail] if task.detail else [], "fields": fields, "image": None,
            "note": None, "extra": {}}, "choices": TASK_CHOICES, "state": state,
            "severity": task.severity, "told_may_answer": True, "created_at": task.created_at,
            "due_at": task.due_at, "anchor_at": anchor, "policy": policy.name if policy else None,
            "policy_title": policy.title if policy else None, "steps": steps, "step": task.step,
            "next_step_at": task.next_step_at if state == "open" else None,
            "answer": "done" if state == "answered" else None,
            "answered_by_id": task.closed_by_id, "answered_at": task.closed_at,
            "acknowledged_by_id": task.acknowledged_by_id,
            "acknowledged_at": task.acknowledged_at,
            "reason": "已取消" if state == "closed" else None,
        })  # fmt: skip
    log = t["escalation_log"]
    for row in conn.execute(sa.select(log).order_by(log.c.id)).all():
        ask_id = ask_of_task.get(row.task_id)
        if ask_id is None:
            continue
        action = {"done": "answered"}.get(row.action, row.action)
        conn.execute(sa.insert(t["ask_log"]), {
            "ask_id": ask_id, "step": row.step, "action": action, "recipient_id": row.recipient_id,
            "card_key": row.card_key, "result": row.result, "detail": row.detail,
            "created_at": row.created_at,
        })  # fmt: skip
    conn.execute(sa.delete(log))
    conn.execute(sa.delete(tasks).where(tasks.c.kind == "approval", tasks.c.source == "claim"))

    # A supervisor typing a rejection reason right now: the reason answers the claim's ask.
    states = t["conversation_states"]
    for row in conn.execute(sa.select(states).where(states.c.key == "awaiting_reason")).all():
        value = json.loads(row.value) if isinstance(row.value, str) else dict(row.value)
        ask_id = ask_of_claim.get(int(value.get("claim_id", 0)))
        conn.execute(sa.delete(states).where(states.c.id == row.id))
        if ask_id is not None:
            conn.execute(sa.insert(states), {
                "employee_id": row.employee_id, "key": "ask_input",
                "value": {"ask_id": ask_id, "choice": "reject"}, "expires_at": row.expires_at,
            })  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_step_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_tasks_next_step_at", ["next_step_at"], unique=False)
    op.execute(
        "UPDATE tasks SET "
        "step = COALESCE((SELECT a.step FROM asks a WHERE a.subject = 'task:' || tasks.id "
        "AND a.kind = 'task_alert'), 0), "
        "next_step_at = (SELECT a.next_step_at FROM asks a WHERE a.subject = 'task:' || tasks.id "
        "AND a.kind = 'task_alert'), "
        "policy_id = (SELECT p.id FROM escalation_policies p JOIN asks a ON a.policy = p.name "
        "WHERE a.subject = 'task:' || tasks.id AND a.kind = 'task_alert')"
    )
    op.create_table(
        "escalation_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("card_key", sa.String(length=100), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["employees.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("escalation_log", schema=None) as batch_op:
        batch_op.create_index("ix_escalation_log_task", ["task_id", "id"], unique=False)
    with op.batch_alter_table("ask_log", schema=None) as batch_op:
        batch_op.drop_index("ix_ask_log_ask")
    op.drop_table("ask_log")
    with op.batch_alter_table("asks", schema=None) as batch_op:
        batch_op.drop_index("ix_asks_subject")
        batch_op.drop_index("ix_asks_owner_state")
        batch_op.drop_index("ix_asks_next_step_at")
    op.drop_table("asks")
