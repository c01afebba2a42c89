"""The audit log (审计日志): who changed what, and when. Every console change writes one row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from bot.models import AuditLog, Employee


def record(
    session: Session,
    actor: Employee | None,
    action: str,
    object_type: str,
    object_id: str | int | None,
    detail: dict[str, Any] | None,
    *,
    now: datetime,
) -> AuditLog:
    """Append one entry (in the caller's transaction, with the change it describes)."""
    row = AuditLog(
        actor_id=actor.id if actor else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:50],
        detail=detail,
        created_at=now,
    )
    session.add(row)
    return row


@dataclass(frozen=True, slots=True)
class AuditLine:
    """An entry with the actor's number and name."""

    entry: AuditLog
    actor_no: str | None
    actor_name: str | None


def entries(
    session: Session,
    *,
    limit: int = 50,
    offset: int = 0,
    action_prefix: str | None = None,
    actor_no: str | None = None,
) -> tuple[list[AuditLine], int]:
    """Entries newest first (optionally of one action family or one actor) and their count."""
    actor = aliased(Employee)
    query = select(AuditLog, actor.employee_no, actor.name).outerjoin(
        actor, actor.id == AuditLog.actor_id
    )
    if action_prefix:
        query = query.where(AuditLog.action.startswith(action_prefix, autoescape=True))
    if actor_no:
        query = query.where(actor.employee_no == actor_no)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return [AuditLine(entry, no, name) for entry, no, name in rows], int(total)
