"""HR console sign-in (design §16): a 6-digit code through the messenger, 5 minutes and 5 tries,
a session cookie (HttpOnly, SameSite=Lax, Secure in production), CSRF on every form, 403 for
workers and supervisors, sign-in and sign-out in the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.config import load_config
from bot.models import AuditLog, ConsoleSession, Role
from bot.notices import console as texts
from bot.services.signin import CodeCheck, check_code, issue_code
from tests.conftest import SECRET
from tests.consoleweb import ask_code, csrf_of, enter_code, last_code, post_form, sign_in
from tests.factories import make_employee, rule
from tests.localchat import inbox


@pytest.fixture
def hr(session):
    return make_employee(session, name="周敏", employee_no="H001", role=Role.HR)


def test_the_code_goes_to_the_persons_chat_and_opens_a_session(client, session, drain, hr):
    page = ask_code(client, hr)
    assert texts.CODE_SENT.format(name="周敏", platform="本地网页聊天") in page.get_data(
        as_text=True
    )
    drain()
    code = last_code(session, hr)
    assert len(code) == 6 and code.isdigit()

    response = enter_code(client, hr, code)

    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    assert client.get("/console/").status_code == 200


def test_the_session_cookie_is_httponly_samesite_lax_and_not_readable_elsewhere(
    client, session, drain, hr
):
    ask_code(client, hr)
    drain()
    cookie = enter_code(client, hr, last_code(session, hr)).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # development serves plain http


def test_the_session_cookie_is_secure_in_production(db_url, tmp_path, clock, session):
    env = {"DATABASE_URL": db_url, "BOT_ENV": "production", "BOT_SECRET_KEY": SECRET,
           "BOT_LEDGER_KEY": "l" * 32, "BOT_VAR_DIR": str(tmp_path)}  # fmt: skip
    app = create_app({"CONFIG": load_config(env), "CLOCK": clock})
    client = app.test_client()
    hr = make_employee(session, role=Role.HR)
    ask_code(client, hr)  # production has no local chat: the code is issued anew below
    clock.advance(minutes=2)
    code = issue_code(session, hr, now=clock.now(), key=SECRET).code
    session.commit()
    cookie = enter_code(client, hr, code).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    app.extensions["bot"].engine.dispose()


def test_a_wrong_code_says_how_many_tries_are_left(client, session, drain, hr):
    ask_code(client, hr)
    drain()
    wrong = f"{(int(last_code(session, hr)) + 1) % 10**6:06d}"
    page = enter_code(client, hr, wrong).get_data(as_text=True)
    assert texts.WRONG_CODE.format(left=4) in page


def test_five_wrong_tries_use_the_code_up_so_even_the_right_one_fails(client, session, drain, hr):
    ask_code(client, hr)
    drain()
    right = last_code(session, hr)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(4):
        enter_code(client, hr, wrong)
    assert texts.NO_TRIES_LEFT in enter_code(client, hr, wrong).get_data(as_text=True)

    response = enter_code(client, hr, right)

    assert response.status_code == 200 and texts.NO_TRIES_LEFT in response.get_data(as_text=True)
    assert session.scalar(select(ConsoleSession.id)) is None


def test_a_code_expires_after_five_minutes(client, session, drain, clock, hr):
    ask_code(client, hr)
    drain()
    code = last_code(session, hr)
    clock.advance(minutes=5, seconds=1)
    assert texts.NO_CODE in enter_code(client, hr, code).get_data(as_text=True)


def test_an_old_code_stops_working_once_a_new_one_is_sent(session, clock, hr):
    first = issue_code(session, hr, now=clock.now(), key=SECRET).code
    clock.advance(seconds=61)
    second = issue_code(session, hr, now=clock.now(), key=SECRET).code
    if first == second:
        pytest.skip("the two random codes happened to be equal")
    assert check_code(session, hr, first, now=clock.now(), key=SECRET).outcome == CodeCheck.WRONG
    assert check_code(session, hr, second, now=clock.now(), key=SECRET).outcome == CodeCheck.OK


def test_codes_are_sent_at_most_once_a_minute(client, session, drain, hr):
    ask_code(client, hr)
    again = ask_code(client, hr).get_data(as_text=True)
    assert "秒后再获取" in again
    drain()
    assert len(inbox(session, hr)) == 1


@pytest.mark.parametrize("role", [Role.WORKER, Role.SUPERVISOR], ids=["worker", "supervisor"])
def test_workers_and_supervisors_get_403_and_no_code(client, session, drain, role):
    person = make_employee(session, role=role)
    response = ask_code(client, person)
    assert response.status_code == 403
    assert "控制台只对 HR 和管理员开放" in response.get_data(as_text=True)
    drain()
    assert inbox(session, person) == []


def test_someone_no_longer_hr_gets_403_on_the_next_page(client, session, drain, hr):
    sign_in(client, session, drain, hr)
    hr.role = Role.SUPERVISOR
    session.commit()
    assert client.get("/console/rules/").status_code == 403


def test_pages_send_a_stranger_to_sign_in(client):
    response = client.get("/console/rules/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=/console/rules/")


def test_unknown_employee_number_is_said_plainly(client):
    page = ask_code(client, "NOBODY").get_data(as_text=True)
    assert texts.UNKNOWN_EMPLOYEE in page


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(client, session, drain, hr):
    sign_in(client, session, drain, hr)
    response = client.post("/console/rules/A01", data={"points": "99"})
    assert response.status_code == 400
    forged = client.post("/console/rules/A01", data={"points": "99", "csrf": "0" * 64})
    assert forged.status_code == 400
    session.commit()  # end the read snapshot: see what the app committed
    assert rule(session, "A01").points == 20


def test_the_sign_in_form_needs_its_csrf_token_too(client, hr):
    response = client.post("/console/login", data={"employee_no": hr.employee_no})
    assert response.status_code == 400


def test_sign_out_ends_the_session_on_the_server(client, session, drain, hr):
    sign_in(client, session, drain, hr)
    response = post_form(client, "/console/", "/console/logout", {})
    assert response.status_code == 302
    cookie = session.scalars(select(ConsoleSession)).one()
    session.commit()  # end the read snapshot: see what the app committed
    assert session.get(ConsoleSession, cookie.id).ended_at is not None
    assert client.get("/console/").status_code == 302


def test_sign_in_and_sign_out_are_in_the_audit_log(client, session, drain, clock, hr):
    sign_in(client, session, drain, hr)
    post_form(client, "/console/", "/console/logout", {})
    rows = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(r.action, r.actor_id, r.created_at) for r in rows] == [
        ("console.sign_in", hr.id, clock.now()),
        ("console.sign_out", hr.id, clock.now()),
    ]


def test_after_sign_in_only_console_paths_are_followed(client, session, drain, hr):
    ask_code(client, hr)
    drain()
    token = csrf_of(client.get("/console/login/code?employee_no=H001"))
    response = client.post(
        "/console/login/code",
        data={"csrf": token, "employee_no": "H001", "code": last_code(session, hr),
              "next": "https://evil.example/"},
    )  # fmt: skip
    assert response.headers["Location"] == "/console/"


def test_a_session_ends_after_eight_idle_hours(client, session, drain, clock, hr):
    sign_in(client, session, drain, hr)
    clock.advance(hours=8, minutes=1)
    assert client.get("/console/").status_code == 302


def test_admins_may_sign_in_too(client, session, drain):
    admin = make_employee(session, role=Role.ADMIN)
    sign_in(client, session, drain, admin)
    assert client.get("/console/employees/").status_code == 200
