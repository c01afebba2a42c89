"""Drive the HR console through its real routes: sign in with the code the bot sends to the
person's (local) chat, then get pages and post forms with their CSRF token."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from bot.models import Employee
from cards import Text
from tests.localchat import inbox

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
CODE = re.compile(r"验证码：(\d{6})")


def csrf_of(response: Any) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(response.get_data(as_text=True))
    assert found, "no form with a CSRF token on the page"
    return found.group(1)


def last_code(session: Session, who: Employee) -> str:
    """The newest sign-in code the bot sent `who`."""
    session.commit()  # a fresh snapshot, and none left open to block the test's own writes
    messages = inbox(session, who)
    session.commit()
    for message in reversed(messages):
        if isinstance(message, Text) and (found := CODE.search(message.text)):
            return found.group(1)
    raise AssertionError(f"no sign-in code was sent to {who.name}")


def ask_code(client: Any, who: Employee | str) -> Any:
    """Step 1: post the employee number from the sign-in page."""
    number = who if isinstance(who, str) else who.employee_no
    token = csrf_of(client.get("/console/login"))
    return client.post("/console/login", data={"csrf": token, "employee_no": number})


def enter_code(client: Any, who: Employee, code: str) -> Any:
    """Step 2: post a code from the code page."""
    token = csrf_of(client.get(f"/console/login/code?employee_no={who.employee_no}"))
    return client.post(
        "/console/login/code", data={"csrf": token, "employee_no": who.employee_no, "code": code}
    )


def sign_in(client: Any, session: Session, drain: Any, who: Employee) -> None:
    """The whole sign-in: ask for a code, let the worker deliver it, enter it."""
    ask_code(client, who)
    drain()
    response = enter_code(client, who, last_code(session, who))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def post_form(client: Any, page: str, action: str, data: dict[str, Any], **kw: Any) -> Any:
    """Post `data` to `action` with the CSRF token of `page`."""
    token = csrf_of(client.get(page))
    return client.post(action, data={"csrf": token, **data}, **kw)
