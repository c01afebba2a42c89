"""POST /api/v1/broadcasts and GET /api/v1/broadcasts/{id}: notices to many people, with read
confirmations when important (design §14)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import Field

from bot.api.base import (
    ApiDoc,
    ApiError,
    ApiModel,
    Operation,
    Text,
    parse_json,
    parse_model,
    row_id,
)
from bot.db import session_scope
from bot.models import Broadcast
from bot.services.broadcasts import UnknownRecipients, send_broadcast, status_json
from bot.services.workcal import load_calendar

if TYPE_CHECKING:
    from bot.state import BotState

NOT_FOUND = "no such broadcast"


class ToDepartments(ApiModel):
    """Everyone in these departments (name or path; sub-departments included)."""

    departments: list[Text(100)] = Field(min_length=1, max_length=500)


class ToEmployees(ApiModel):
    """These employees, by employee number."""

    employees: list[Text(50)] = Field(min_length=1, max_length=50000)


class BroadcastIn(ApiModel):
    """A notice; `important` ones ask each person for 已读."""

    title: Text(200)
    text: Text(2000)
    important: bool = True
    to: Literal["all"] | ToDepartments | ToEmployees


class BroadcastCreated(ApiModel):
    """The notice as recorded: how many people it went to."""

    id: int
    total: int
    important: bool


class BroadcastStatus(ApiModel):
    """Who has read an important notice (a plain one has nobody to confirm)."""

    id: int
    title: str
    important: bool
    total: int
    read: int
    unread: list[str]


def register(api: Blueprint, state: BotState, doc: ApiDoc) -> None:
    """Add the broadcast routes to the API blueprint."""

    @api.post("/broadcasts")
    @doc.add(
        Operation("POST", "/broadcasts", "Send a notice (important: each person confirms 已读)",
                  body=BroadcastIn, responses={201: BroadcastCreated})
    )  # fmt: skip
    def create_broadcast_route() -> Any:
        body = parse_model(BroadcastIn, parse_json(request.get_data()))
        to: Any = body.to if isinstance(body.to, str) else body.to.model_dump()
        now = state.clock.now()
        try:
            with session_scope(state.session_factory) as session:
                calendar = load_calendar(session, state.config.tz, now.date())
                broadcast = send_broadcast(
                    session, title=body.title, text=body.text, important=body.important, to=to,
                    now=now, signer=state.signer, calendar=calendar, source="api",
                )  # fmt: skip
                result = {"id": broadcast.id, "total": broadcast.total, "important": body.important}
        except UnknownRecipients as exc:
            raise ApiError(exc.field, f"unknown: {', '.join(exc.values[:10])}") from None
        state.notify_worker()
        return jsonify(result), 201

    @api.get("/broadcasts/<broadcast_id>")
    @doc.add(
        Operation("GET", "/broadcasts/{id}", "Read confirmations of a notice",
                  responses={200: BroadcastStatus, 404: None})
    )  # fmt: skip
    def broadcast_status_route(broadcast_id: str) -> Any:
        number = row_id(broadcast_id, NOT_FOUND)
        with session_scope(state.session_factory) as session:
            broadcast = session.get(Broadcast, number)
            if broadcast is None:
                raise ApiError("id", NOT_FOUND, 404)
            return jsonify(status_json(session, broadcast))
