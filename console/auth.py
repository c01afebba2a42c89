"""Console sign-in (design §16): 工号 → a 6-digit code sent through the person's messenger →
a session cookie (HttpOnly, SameSite=Lax, Secure in production). Every other console request
passes the guard: a live session of an HR person or admin (else 403), and on a POST the form's
CSRF token."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, abort, g, make_response, redirect, render_template, request, url_for

from bot.models import Employee
from bot.notices import console as texts
from bot.platforms import spec_of
from bot.services import signin
from bot.services.audit import record
from bot.services.people import delivery_platform, reach_of
from console.web import Viewer, csrf_ok, csrf_token, db, now, state

COOKIE = "bot_console"
PRE_COOKIE = "bot_console_pre"  # a nonce that ties the sign-in forms' CSRF token to a browser
OPEN = frozenset({"console.login", "console.login_code", "console.static"})
CODE = re.compile(r"^\d{6}$")


def install(bp: Blueprint) -> None:
    """Add the sign-in routes and the guard in front of every other console route."""
    bp.before_request(_guard)
    bp.add_url_rule("/login", "login", _login, methods=["GET", "POST"])
    bp.add_url_rule("/login/code", "login_code", _login_code, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", _logout, methods=["POST"])


def _guard() -> Any:
    """Sign-in for everything but the sign-in pages; HR and admins only; CSRF on every POST."""
    if request.endpoint in OPEN:
        g.console_csrf = csrf_token("pre:" + _pre_nonce())
        if request.method == "POST" and not csrf_ok(
            "pre:" + _pre_nonce(), request.form.get("csrf")
        ):
            abort(400)
        return None
    token = request.cookies.get(COOKIE, "")
    with db() as session:
        row = signin.find_session(session, token, now=now())
        person = session.get(Employee, row.employee_id) if row is not None else None
        if row is None or person is None:
            return redirect(url_for("console.login", next=request.full_path))
        if not signin.may_use_console(person):
            abort(403)
        g.console_viewer = Viewer(
            person.id, person.employee_no, person.name, person.role, row.id, token
        )
    g.console_csrf = csrf_token(f"session:{token}")
    if request.method == "POST" and not csrf_ok(f"session:{token}", request.form.get("csrf")):
        abort(400)
    return None


def _pre_nonce() -> str:
    """This browser's pre-sign-in nonce (set on the response by `_with_pre_cookie`)."""
    if "console_pre" not in g:
        g.console_pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    return g.console_pre


def _with_pre_cookie(body: Any, status: int = 200) -> Any:
    response = make_response(body, status)
    if request.cookies.get(PRE_COOKIE) != _pre_nonce():
        response.set_cookie(PRE_COOKIE, _pre_nonce(), httponly=True, samesite="Lax",
                            secure=state().config.is_production, path="/console")  # fmt: skip
    return response


def _safe_next(raw: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if raw and raw.startswith("/console/") and not raw.startswith("//"):
        return raw
    return url_for("console.overview")


def _login() -> Any:
    """Step 1: the employee number; a code goes to that person's messenger."""
    nxt = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return _with_pre_cookie(render_template("console/login.html", next=nxt, error=None))
    number = (request.form.get("employee_no") or "").strip()[:50]
    with db() as session:
        person = signin.find_person(session, number) if number else None
        if person is None:
            page = render_template("console/login.html", next=nxt, error=texts.UNKNOWN_EMPLOYEE,
                                   employee_no=number)  # fmt: skip
            return _with_pre_cookie(page, 200)
        if not signin.may_use_console(person):
            abort(403)
        issued = signin.issue_code(session, person, now=now(), key=state().config.secret_key)
        if issued.code is not None:
            texts.send_sign_in_code(session, person, issued.code, now=now())
            notice = texts.CODE_SENT.format(
                name=person.name, platform=_platform_label(session, person)
            )
            error = None
        else:
            notice = None
            error = (
                texts.TOO_SOON.format(seconds=issued.wait_seconds)
                if issued.refusal == signin.IssueRefusal.TOO_SOON
                else texts.TOO_MANY_CODES
            )
    state().notify_worker()
    return _with_pre_cookie(
        render_template(
            "console/code.html", employee_no=number, next=nxt, notice=notice, error=error
        )
    )


def _platform_label(session: Any, person: Employee) -> str:
    """Where the code goes, as the person knows it: 企业微信, 钉钉, 飞书, 本地网页聊天."""
    reach = reach_of(session, [person.id]).get(person.id)
    choice = delivery_platform(reach, set(state().adapters)) if reach else None
    spec = spec_of(choice[0]) if choice else None
    return spec.label if spec else texts.MESSENGER


def _login_code() -> Any:
    """Step 2: the code. Right: a session; wrong: the tries left; five wrong: a new code."""
    number = (request.values.get("employee_no") or "").strip()[:50]
    nxt = _safe_next(request.values.get("next"))
    if request.method == "GET":
        page = render_template(
            "console/code.html", employee_no=number, next=nxt, notice=None, error=None
        )
        return _with_pre_cookie(page)
    code = (request.form.get("code") or "").strip()
    error = None
    token = None
    with db() as session:
        person = signin.find_person(session, number)
        if person is None:
            error = texts.UNKNOWN_EMPLOYEE
        elif not signin.may_use_console(person):
            abort(403)
        elif not CODE.match(code):
            error = texts.BAD_FORMAT
        else:
            checked = signin.check_code(
                session, person, code, now=now(), key=state().config.secret_key
            )
            if checked.outcome == signin.CodeCheck.OK:
                agent = request.headers.get("User-Agent")
                token = signin.open_session(session, person, now=now(), user_agent=agent)
                record(session, person, "console.sign_in", "employee", person.employee_no,
                       {"ip": request.remote_addr}, now=now())  # fmt: skip
            elif checked.outcome == signin.CodeCheck.WRONG:
                error = texts.WRONG_CODE.format(left=checked.left)
            elif checked.outcome == signin.CodeCheck.USED_UP:
                error = texts.NO_TRIES_LEFT
                record(session, person, "console.code_locked", "employee", person.employee_no,
                       {"ip": request.remote_addr}, now=now())  # fmt: skip
            else:
                error = texts.NO_CODE
    if token is None:
        page = render_template(
            "console/code.html", employee_no=number, next=nxt, notice=None, error=error
        )
        return _with_pre_cookie(page)
    response = redirect(nxt)
    response.set_cookie(
        COOKIE, token, max_age=int(signin.SESSION_MAX.total_seconds()), httponly=True,
        samesite="Lax", secure=state().config.is_production, path="/console",
    )  # fmt: skip
    response.delete_cookie(PRE_COOKIE, path="/console")
    return response


def _logout() -> Any:
    """Sign out: the session ends on the server, the cookie goes."""
    with db() as session:
        ended = signin.end_session(session, request.cookies.get(COOKIE, ""), now=now())
        if ended is not None:
            person = session.get(Employee, ended.employee_id)
            record(session, person, "console.sign_out", "employee",
                   person.employee_no if person else None, None, now=now())  # fmt: skip
    response = redirect(url_for("console.login"))
    response.delete_cookie(COOKIE, path="/console")
    return response
