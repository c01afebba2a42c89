"""The JSON API for external systems (MES/ERP/PLM), bearer-token protected (design §5)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from bot.api import tasks

if TYPE_CHECKING:
    from bot.state import BotState


def make_blueprint(state: BotState) -> Blueprint:
    """The /api/v1 blueprint (registered only when BOT_API_TOKEN is set)."""
    api = Blueprint("api", __name__, url_prefix="/api/v1")
    token = (state.config.api_token or "").encode()

    @api.before_request
    def _authenticate() -> Any:
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

    tasks.register(api, state)

    @api.errorhandler(405)
    def _not_allowed(_exc: Exception) -> Response:
        return Response(status=405)

    return api
