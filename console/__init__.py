"""The HR web console at /console/ (design §16): a server-rendered Flask blueprint in Chinese
that works on a phone. HR and admins sign in with a one-time code sent through their messenger;
workers and supervisors get 403. Pages are backed by the services the chat and CLI use, and
every change is in the audit log.

Pages live in console/pages/ (one module each, registered in console/pages/__init__.py); the
composition root (bot/app.py) registers `make_blueprint(state)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, g, render_template, request

from console import auth
from console.pages import PAGES, install_pages

if TYPE_CHECKING:
    from bot.state import BotState

ERRORS = {
    400: ("页面已过期", "表单已过期或来源不明，请返回上一页刷新后重试。"),
    403: ("没有权限", "控制台只对 HR 和管理员开放。如需查看积分，请在聊天中发送「积分」。"),
    404: ("页面不存在", "没有找到这个页面，请从导航重新进入。"),
    413: ("文件太大", "上传的文件超过 11 MB，请拆分后重试。"),
}


def make_blueprint(state: BotState) -> Blueprint:
    """The /console blueprint: sign-in, the guard, every page, errors in Chinese."""
    bp = Blueprint(
        "console",
        __name__,
        url_prefix="/console",
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    auth.install(bp)
    install_pages(bp)
    # Any other path under /console/ is the console's own 404 (in Chinese), not Flask's.
    bp.add_url_rule("/<path:_unknown>", "unknown", lambda _unknown: abort(404))

    @bp.context_processor
    def _context() -> dict[str, Any]:
        return {
            "nav": PAGES,
            "viewer": g.get("console_viewer"),
            "csrf": g.get("console_csrf", ""),
            "endpoint": (request.endpoint or "").removeprefix("console."),
            "production": state.config.is_production,
        }

    for status in ERRORS:
        bp.register_error_handler(status, _error_page(status))
    return bp


def _error_page(status: int) -> Any:
    def handler(_exc: Exception) -> Any:
        title, text = ERRORS[status]
        return render_template("console/error.html", title=title, text=text, status=status), status

    return handler
