"""The composition root: the Flask app factory wires configuration, database, adapters, handlers
and routes together. The one core module that imports adapters, handlers and blueprints."""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, redirect, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.api import make_blueprint as make_api_blueprint
from bot.clock import Clock
from bot.config import Config, load_config
from bot.db import (
    current_and_head,
    is_unavailable,
    make_engine,
    make_session_factory,
    unavailable_reason,
)
from bot.platforms import LOCAL, PLATFORMS
from bot.runtime.worker import Worker
from bot.signing import Signer
from bot.state import BotState
from console import make_blueprint as make_console_blueprint
from handlers import router

log = logging.getLogger(__name__)

UPLOAD_LIMIT = 11 * 1024 * 1024  # photos up to 10 MB plus form overhead (local chat)


def build_adapters(state: BotState) -> dict[str, Any]:
    """Instantiate the local adapter (unless production) and every configured platform."""
    specs = [] if state.config.is_production else [LOCAL]
    specs += [p for p in PLATFORMS.values() if state.config.platform(p.name) is not None]
    adapters: dict[str, Any] = {}
    for spec in specs:
        module_name, class_name = spec.adapter.split(":")
        adapters[spec.name] = getattr(importlib.import_module(module_name), class_name)(state)
    return adapters


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` may carry CONFIG (a Config), CLOCK and ENGINE."""
    test_config = test_config or {}
    config: Config = test_config.get("CONFIG") or load_config()
    app = Flask(__name__)
    # No SECRET_KEY for Flask: nothing uses its cookie session (buttons are signed by
    # bot.signing), and without a key Flask skips building a cookie serializer per request.
    app.config.update(MAX_CONTENT_LENGTH=UPLOAD_LIMIT, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    engine = test_config.get("ENGINE") or make_engine(config.database_url)
    state = BotState(
        config=config,
        engine=engine,
        session_factory=make_session_factory(engine, ledger_key=config.ledger_key),
        clock=test_config.get("CLOCK") or Clock(),
        signer=Signer(config.secret_key),
    )
    state.adapters = build_adapters(state)
    state.dispatch = router.dispatch
    state.worker = Worker(state)
    app.extensions["bot"] = state
    for adapter in state.adapters.values():
        blueprint = adapter.blueprint()
        if blueprint is not None:
            app.register_blueprint(blueprint)
    _register_health(app, state)
    if config.api_token:
        app.register_blueprint(make_api_blueprint(state))
    app.register_blueprint(make_console_blueprint(state))
    _register_root(app, state)
    _register_metrics(app, state)
    _register_unavailable(app)

    @app.errorhandler(413)
    def _too_large(_exc: Exception) -> Any:
        return "", 413

    return app


def _register_health(app: Flask, state: BotState) -> None:
    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        try:
            with state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current, head = current_and_head(state.engine)
        except Exception as exc:
            if isinstance(exc, SQLAlchemyError) and is_unavailable(exc):
                log.warning("readiness check: database unavailable (%s)", unavailable_reason(exc))
            else:
                log.exception("readiness check failed")
            return jsonify(status="database unreachable"), 503
        if current != head:
            return jsonify(status="migrations pending", current=current, head=head), 503
        problem = state.media.check()
        if problem is not None:
            return jsonify(status=problem), 503
        return jsonify(status="ok", revision=current)


RETRY_AFTER_SECONDS = 5
UNAVAILABLE_TEXT = "服务暂时不可用，请稍后再试。"
UNAVAILABLE_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>服务暂时不可用</title></head>
<body style="font:16px/1.6 sans-serif;max-width:32em;margin:15vh auto;padding:0 16px">
<h1 style="font-size:20px">服务暂时不可用</h1><p>系统正在恢复，请稍后刷新页面。</p></body></html>"""


def _register_unavailable(app: Flask) -> None:
    """While the database is away (restarting, unreachable, out of connections) every route
    answers 503 with Retry-After, in one shape: the platforms deliver the callback again later,
    API clients and browsers retry. Other database errors stay 500s with their traceback."""

    @app.errorhandler(SQLAlchemyError)
    def _database_error(exc: SQLAlchemyError) -> Any:
        if not is_unavailable(exc):
            raise exc  # a fault of ours, not an outage: Flask's 500, traceback in the log
        # One line, no traceback: an outage fails every request the same way. No query
        # string either (it carries callback signatures).
        log.warning(
            "database unavailable, answered 503 to %s %s (%s)",
            request.method, request.path, unavailable_reason(exc),
        )  # fmt: skip
        wants_html = request.blueprint == "console" or (
            request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
        )
        if wants_html:
            response = Response(UNAVAILABLE_PAGE, status=503, mimetype="text/html")
        else:
            response = jsonify(error="unavailable", message=UNAVAILABLE_TEXT)
            response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


ROOT_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>绩效积分机器人</title></head>
<body style="font:16px/1.6 sans-serif;max-width:32em;margin:15vh auto;padding:0 16px">
<h1 style="font-size:20px">绩效积分机器人</h1><p>服务正在运行。员工请在企业微信、钉钉或飞书中使用。</p>
<p>HR 和管理员：<a href="/console/">进入 HR 控制台</a></p></body></html>"""


def _register_root(app: Flask, state: BotState) -> None:
    """`/`: the web chat in development, a short page in production (never Flask's 404)."""

    @app.get("/")
    def root() -> Any:
        if "local" in state.adapters:
            return redirect("/local/")
        return Response(ROOT_PAGE, mimetype="text/html")


def _register_metrics(app: Flask, state: BotState) -> None:
    """`/metrics`, and the timing of every platform callback (blueprints named by platform)."""

    @app.before_request
    def _start_timer() -> None:
        if request.blueprint in PLATFORMS:
            g.callback_started = time.perf_counter()

    @app.after_request
    def _count_callback(response: Any) -> Any:
        started = g.pop("callback_started", None)
        if started is not None:
            seconds = time.perf_counter() - started
            metrics.observe_callback(request.blueprint or "", response.status_code, seconds)
        return response

    @app.get("/metrics")
    def prometheus() -> Any:
        body = metrics.render(state.session_factory, state.clock)
        return Response(body, mimetype=metrics.CONTENT_TYPE)


def bot_state(app: Flask) -> BotState:
    """The BotState of an app."""
    return app.extensions["bot"]
