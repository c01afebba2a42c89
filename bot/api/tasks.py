"""POST /api/v1/tasks creates a task with an escalation chain, idempotently per
(source, external_id): 201 on create, 200 with the existing task on a repeat.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.errors import InvalidInput
from bot.models import Employee, Task
from bot.services.tasks import create_task, policy_by_name, task_ask

if TYPE_CHECKING:
    from bot.state import BotState

SOURCE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,30}$")
SEVERITIES = ("normal", "urgent")


class FieldError(Exception):
    """A request field is missing or invalid (→ 400 naming the field)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def _text(body: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise FieldError(name, "required")
        return None
    if not isinstance(value, str):
        raise FieldError(name, "must be a string")
    value = value.strip()
    if not value or len(value) > limit:
        raise FieldError(name, f"must be 1 to {limit} characters")
    return value


def _due(body: dict[str, Any]) -> datetime | None:
    raw = body.get("due_at")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise FieldError("due_at", "must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise FieldError("due_at", "must be an ISO 8601 time") from None
    if when.tzinfo is None:
        raise FieldError("due_at", "must include a UTC offset, e.g. 2026-11-26T14:00:00+08:00")
    return when


def _parse(session: Session, body: Any) -> dict[str, Any]:
    """Validate a task request into create_task keywords. Raises FieldError."""
    if not isinstance(body, dict):
        raise FieldError("body", "must be a JSON object")
    source = _text(body, "source", 30)
    assert source is not None
    if not SOURCE_RE.match(source):
        raise FieldError("source", "letters, digits and _ . : - only")
    external_id = _text(body, "external_id", 100)
    title = _text(body, "title", 200)
    owner_no = _text(body, "owner", 50)
    severity = body.get("severity", "normal")
    if severity not in SEVERITIES:
        raise FieldError("severity", "must be normal or urgent")
    policy = _text(body, "policy", 50, required=False)
    if policy is not None and policy_by_name(session, policy) is None:
        raise FieldError("policy", "unknown escalation policy")
    owner = session.scalar(select(Employee).where(Employee.employee_no == owner_no))
    if owner is None or not owner.active:
        raise FieldError("owner", "no active employee with this employee_no")
    return {
        "source": source,
        "external_id": external_id,
        "title": title,
        "owner": owner,
        "due_at": _due(body),
        "severity": severity,
        "policy": policy,
        "kind": _text(body, "kind", 30, required=False) or "alert",
        "detail": _text(body, "detail", 500, required=False),
    }


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat() if when else None


def task_json(session: Session, task: Task) -> dict[str, Any]:
    """The API's view of a task."""
    owner = session.get(Employee, task.owner_id)
    ask = task_ask(session, task)
    return {
        "id": task.id,
        "source": task.source,
        "external_id": task.external_id,
        "kind": task.kind,
        "title": task.title,
        "owner": owner.employee_no if owner else None,
        "due_at": _iso(task.due_at),
        "severity": task.severity,
        "state": task.state,
        "policy": ask.policy if ask else None,
        "next_step_at": _iso(ask.next_step_at) if ask else None,
        "created_at": _iso(task.created_at),
    }


def _existing(session: Session, source: str, external_id: str) -> Task | None:
    return session.scalar(
        select(Task).where(Task.source == source, Task.external_id == external_id)
    )


def register(api: Blueprint, state: BotState) -> None:
    """Add POST /tasks to the API blueprint."""

    @api.post("/tasks")
    def create_task_route() -> Any:
        body = request.get_json(silent=True)
        now = state.clock.now()
        try:
            with session_scope(state.session_factory) as session:
                fields = _parse(session, body)
                found = _existing(session, fields["source"], fields["external_id"])
                if found is not None:
                    return jsonify(task_json(session, found)), 200
                task = create_task(session, now=now, tz=state.config.tz, **fields)
                result = task_json(session, task)
        except FieldError as exc:
            return jsonify(error="invalid", field=exc.field, message=exc.message), 400
        except InvalidInput as exc:
            return jsonify(error="invalid", field="policy", message=str(exc)), 400
        except IntegrityError:
            # A concurrent request created the same (source, external_id) first.
            with session_scope(state.session_factory) as session:
                found = _existing(session, body["source"].strip(), body["external_id"].strip())
                if found is None:
                    raise
                return jsonify(task_json(session, found)), 200
        state.notify_worker()
        return jsonify(result), 201
