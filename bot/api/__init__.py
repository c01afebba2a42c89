"""The JSON API for external systems (MES/ERP/PLM), bearer-token protected (design §5).

Requests and responses are pydantic models (bot/api/base.py); a bad field is a 400 naming it;
`GET /api/v1/openapi.json` is the OpenAPI 3.1 document generated from the same models.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from bot.api import broadcasts, changes, surveys, tasks
from bot.api.base import ApiDoc, ApiError

if TYPE_CHECKING:
    from bot.state import BotState

PUBLIC = frozenset({"api.openapi"})  # the document itself needs no token


def make_blueprint(state: BotState) -> Blueprint:
    """The /api/v1 blueprint (registered only when BOT_API_TOKEN is set)."""
    api = Blueprint("api", __name__, url_prefix="/api/v1")
    token = (state.config.api_token or "").encode()
    doc = ApiDoc(title="绩效积分机器人 API", version="1", prefix="/api/v1")

    @api.before_request
    def _authenticate() -> Any:
        if request.endpoint in PUBLIC:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            response = jsonify(error="unauthorized")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if not hmac.compare_digest(given.strip().encode(), token):
            return jsonify(error="forbidden"), 403
        return None

    tasks.register(api, state, doc)
    broadcasts.register(api, state, doc)
    surveys.register(api, state, doc)
    changes.register(api, state, doc)

    @api.get("/openapi.json")
    def openapi() -> Any:
        return jsonify(doc.document())

    @api.errorhandler(ApiError)
    def _refused(exc: ApiError) -> Any:
        return jsonify(exc.body()), exc.status

    @api.errorhandler(405)
    def _not_allowed(_exc: Exception) -> Response:
        return Response(status=405)

    return api
