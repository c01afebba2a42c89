"""POST /api/v1/tasks: an outside system (MES, ERP) creates a task with an escalation chain,
idempotently per (source, external_id): 201 on create, 200 with the existing task on a repeat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.api.base import ApiDoc, ApiError, ApiModel, Operation, Text, Time, parse_json, parse_model
from bot.db import session_scope
from bot.errors import InvalidInput
from bot.models import Employee, Task
from bot.services.tasks import create_task, policy_by_name, task_ask

if TYPE_CHECKING:
    from bot.state import BotState

SOURCE = r"^[A-Za-z0-9_.:-]+$"


class TaskIn(ApiModel):
    """A task to create; `owner` is an employee number, `due_at` carries its UTC offset."""

    source: Text(30, pattern=SOURCE)
    external_id: Text(100)
    title: Text(200)
    owner: Text(50)
    due_at: Time | None = None
    severity: Literal["normal", "urgent"] = "normal"
    policy: Text(50) | None = None
    kind: Text(30) = "alert"
    detail: Text(500, min_length=0) | None = None


class TaskOut(ApiModel):
    """A task as the API shows it, with its escalation chain's next step."""

    id: int
    source: str
    external_id: str | None
    kind: str
    title: str
    owner: str | None
    due_at: datetime | None
    severity: str
    state: str
    policy: str | None
    next_step_at: datetime | None
    created_at: datetime


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


def _owner(session: Session, employee_no: str) -> Employee:
    owner = session.scalar(select(Employee).where(Employee.employee_no == employee_no))
    if owner is None or not owner.active:
        raise ApiError("owner", "no active employee with this employee_no")
    return owner


def register(api: Blueprint, state: BotState, doc: ApiDoc) -> None:
    """Add POST /tasks to the API blueprint."""

    @api.post("/tasks")
    @doc.add(
        Operation("POST", "/tasks", "Create a task (idempotent per source + external_id)",
                  body=TaskIn, responses={201: TaskOut, 200: TaskOut})
    )  # fmt: skip
    def create_task_route() -> Any:
        body = parse_model(TaskIn, parse_json(request.get_data()))
        now = state.clock.now()
        try:
            with session_scope(state.session_factory) as session:
                found = _existing(session, body.source, body.external_id)
                if found is not None:
                    return jsonify(task_json(session, found)), 200
                owner = _owner(session, body.owner)
                if body.policy is not None and policy_by_name(session, body.policy) is None:
                    raise ApiError("policy", "unknown escalation policy")
                task = create_task(
                    session, owner=owner, title=body.title, now=now, tz=state.config.tz,
                    kind=body.kind, source=body.source, external_id=body.external_id,
                    due_at=body.due_at, severity=body.severity, policy=body.policy,
                    detail=body.detail,
                )  # fmt: skip
                result = task_json(session, task)
        except InvalidInput as exc:
            raise ApiError("policy", str(exc)) from None
        except IntegrityError:
            # A concurrent request created the same (source, external_id) first.
            with session_scope(state.session_factory) as session:
                found = _existing(session, body.source, body.external_id)
                if found is None:
                    raise
                return jsonify(task_json(session, found)), 200
        state.notify_worker()
        return jsonify(result), 201
