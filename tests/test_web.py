"""The local web chat, health checks and the production switch."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.app import create_app
from bot.config import load_config
from bot.models import Evidence, InboundEvent
from bot.notices.evidence import PHOTO_NOT_IMAGE, PHOTO_TOO_LARGE
from handlers.help import HELP_TITLE, UNKNOWN_PREFIX
from tests.factories import make_employee, make_team
from tests.localchat import last, say, send_photo


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ok"


def test_chat_page_and_employee_list(client, session):
    boss, _ = make_team(session)
    page = client.get("/local/")
    assert page.status_code == 200 and "绩效积分机器人" in page.get_data(as_text=True)
    people = client.get("/local/api/employees").json
    assert {
        "employee_no": boss.employee_no,
        "name": "王主管",
        "role": "supervisor",
    }.items() <= next(p for p in people if p["employee_no"] == boss.employee_no).items()


def test_messages_render_as_html_and_escape_user_text(client, session, drain):
    worker = make_employee(session)
    say(client, worker, "<script>alert(1)</script>")
    drain()
    html = " ".join(
        m["html"] for m in client.get(f"/local/api/messages?employee={worker.employee_no}").json
    )
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_help_and_unknown_text_get_the_help_card(client, session, drain):
    worker = make_employee(session)
    say(client, worker, "帮助")
    drain()
    assert last(session, worker).title == HELP_TITLE
    say(client, worker, "今天天气")
    drain()
    assert last(session, worker).lines[0] == UNKNOWN_PREFIX.format(text="今天天气")


def test_not_an_image_is_refused_with_a_reason(client, session, drain):
    _boss, (worker, _) = make_team(session)
    send_photo(client, worker, "这不是照片".encode() * 20, name="note.jpg")
    drain()
    assert last(session, worker).text == PHOTO_NOT_IMAGE
    assert session.scalar(select(func.count(Evidence.id))) == 0


def test_oversize_upload_is_refused_before_processing(client, session):
    worker = make_employee(session)
    response = send_photo(client, worker, b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 10))
    assert response.status_code == 413 and response.json["message"] == PHOTO_TOO_LARGE
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


def test_unknown_employee_gets_404(client):
    assert (
        client.post("/local/api/send", data={"employee": "nobody", "text": "hi"}).status_code == 404
    )


def test_local_chat_is_unreachable_in_production(db_url, tmp_path):
    config = load_config(
        {
            "DATABASE_URL": db_url,
            "BOT_ENV": "production",
            "BOT_SECRET_KEY": "p" * 32,
            "BOT_LEDGER_KEY": "l" * 32,
            "BOT_VAR_DIR": str(tmp_path),
        }
    )
    app = create_app({"CONFIG": config})
    client = app.test_client()
    assert client.get("/local/").status_code == 404
    assert client.post("/local/api/send", data={"employee": "E001", "text": "x"}).status_code == 404
    app.extensions["bot"].engine.dispose()


def test_points_and_rank_after_approval(client, session, drain):
    from bot.services.ledger import append_entry

    boss, (a, b) = make_team(session)
    from tests.conftest import START

    append_entry(session, a, 20, kind="claim", memo="A01 发现模具磨损隐患并报修", now=START)
    append_entry(session, b, 5, kind="claim", memo="B01 填写完整交接记录", now=START)
    session.commit()
    say(client, a, "积分")
    drain()
    card = last(session, a)
    assert [(f.label, f.value) for f in card.fields] == [
        ("余额", "20 分"),
        ("本周", "20 分"),
        ("本月", "20 分"),
    ]
    assert "+20 A01 发现模具磨损隐患并报修" in card.lines[1]
    say(client, b, "rank")
    drain()
    rank = last(session, b)
    assert rank.lines[0].endswith(f"{a.name} 20 分") and rank.lines[1].endswith("← 我")
    assert rank.note == "我的名次：第 2 名"


def test_pending_lists_claims_for_the_supervisor(client, session, drain):
    boss, (a, _) = make_team(session)
    say(client, a, "申领 A02 帮二班调试送料机")
    drain()
    say(client, boss, "待审")
    drain()
    from tests.localchat import inbox

    titles = [m.title for m in inbox(session, boss)]
    assert titles[-2] == "待审申领 1 条" and titles[-1].startswith("待审核申领 #")
