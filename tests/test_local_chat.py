"""The local web chat as a manager meets it in a demo: readable help, rules to tap, ties that
share a rank, a Chinese reason for a refused upload, the sender's photo as a thumbnail, long
notes cut with 展开, and a root URL that leads somewhere."""

from __future__ import annotations

import io
import logging
import shutil

from PIL import Image
from sqlalchemy import select

from adapters.local.render import EXPAND, render_html
from bot.app import create_app
from bot.config import load_config
from bot.models import Claim, LocalMessage, Role
from bot.notices.claims import EVIDENCE_REQUIRED
from bot.notices.evidence import PHOTO_NOT_SAVED, PHOTO_TOO_LARGE
from bot.services.ledger import append_entry
from cards import Card, Field, Text
from handlers.claim import CATEGORY_TITLE, RULES_TITLE
from handlers.help import HELP_LINES, HR_LINES
from tests.conftest import START
from tests.factories import make_employee, make_team, photo_bytes
from tests.localchat import button, last, last_card, press, say, send_photo


def test_help_has_no_placeholder_notation(client, session, drain):
    worker = make_employee(session)
    say(client, worker, "帮助")
    drain()
    lines = last(session, worker).lines
    assert not any(mark in line for line in lines for mark in "<>‹›[]")
    assert not set(HR_LINES) & set(lines)


def test_hrs_help_lists_hrs_commands(client, session, drain):
    hr = make_employee(session, role=Role.HR)
    say(client, hr, "帮助")
    drain()
    assert set(HELP_LINES + HR_LINES) <= set(last(session, hr).lines)


def test_the_rule_list_is_categories_to_tap_then_rules_to_tap(client, session, drain):
    _boss, (worker, _) = make_team(session)
    say(client, worker, "申领")
    drain()
    categories = last_card(session, worker, RULES_TITLE)
    assert len(categories.buttons) <= 6 and categories.buttons[-1].label == "更多 ›"
    press(client, worker, button(categories, "安全"))
    drain()
    safety = last_card(session, worker, CATEGORY_TITLE.format(category="安全"))
    assert [line.split()[0] for line in safety.lines] == ["A05", "A07", "B03", "B11", "C03"]

    press(client, worker, button(safety, "A05"))
    drain()

    assert last(session, worker) == Text(
        EVIDENCE_REQUIRED.format(rule="A05 发现并消除重大安全隐患")
    )


def test_tapping_a_rule_that_needs_no_photo_submits_the_claim(client, session, drain):
    _boss, (worker, _) = make_team(session)
    say(client, worker, "申领")
    drain()
    press(client, worker, button(last_card(session, worker, RULES_TITLE), "协作"))
    drain()
    press(client, worker, button(last_card(session, worker, "协作"), "A02"))
    drain()
    assert session.scalars(select(Claim)).one().rule.code == "A02"


def test_more_shows_the_next_page_of_categories(client, session, drain):
    _boss, (worker, _) = make_team(session)
    say(client, worker, "申领")
    drain()
    press(client, worker, button(last_card(session, worker, RULES_TITLE), "更多"))
    drain()
    second = last_card(session, worker, RULES_TITLE)
    assert second.buttons and not any(b.label.startswith("安全") for b in second.buttons)


def test_equal_points_share_a_rank_in_the_chat(client, session, drain):
    boss, (a, b) = make_team(session)
    for person in (a, b):
        append_entry(session, person, 10, kind="claim", memo="A03", now=START)
    session.commit()
    say(client, b, "排行")
    drain()
    card = last(session, b)
    assert [line.split()[0] for line in card.lines] == ["🥇", "🥇"]
    assert all("（并列）" in line for line in card.lines)
    assert card.note == "我的名次：第 1 名（并列）"


def test_an_upload_over_the_limit_answers_the_reason_in_chinese(client, session):
    worker = make_employee(session)
    response = client.post(
        "/local/api/send",
        data={
            "employee": worker.employee_no,
            "photo": (io.BytesIO(b"x" * (12 * 1024 * 1024)), "big.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.json == {"status": "refused", "message": PHOTO_TOO_LARGE}


def test_a_sent_photo_shows_as_a_thumbnail_in_the_senders_line(client, session):
    worker = make_employee(session)
    send_photo(client, worker, photo_bytes(3, size=(1600, 1200)))
    row = session.scalars(select(LocalMessage).where(LocalMessage.direction == "in")).one()
    assert row.body["type"] == "photo"
    html = client.get(f"/local/api/messages?employee={worker.employee_no}").json[0]["html"]
    src = html.split('src="')[1].split('"')[0]
    image = client.get(src)
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(image.data)).size) == 480


def test_a_file_that_is_no_picture_shows_as_a_photo_line(client, session):
    worker = make_employee(session)
    send_photo(client, worker, b"not a picture" * 10, name="note.jpg")
    row = session.scalars(select(LocalMessage).where(LocalMessage.direction == "in")).one()
    assert row.body == {"type": "text", "text": "📷 照片"}


def test_an_unwritable_media_directory_is_answered_calmly_said_once_and_not_ready(
    client, session, state, caplog
):
    worker = make_employee(session)
    media = state.config.media_dir
    shutil.rmtree(media, ignore_errors=True)
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(b"")  # a file where the directory should be: unwritable even for root
    problem = f"media directory not writable: {media}"
    with caplog.at_level(logging.INFO, logger="bot.mediadir"):
        for _ in range(2):
            response = send_photo(client, worker, photo_bytes(3))
            assert response.status_code == 503
            assert response.json == {"status": "refused", "message": PHOTO_NOT_SAVED}
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json) == (503, {"status": problem})
        said = [r.getMessage() for r in caplog.records if r.name == "bot.mediadir"]
        assert len(said) == 1 and said[0].startswith(problem)
        media.unlink()  # the disk is back
        assert client.get("/readyz").status_code == 200
        assert send_photo(client, worker, photo_bytes(3)).status_code == 202
    said = [r.getMessage() for r in caplog.records if r.name == "bot.mediadir"]
    assert said[1:] == [f"media directory writable again: {media}"]
    assert len(session.scalars(select(LocalMessage)).all()) == 1  # only the photo taken


def test_a_long_note_is_cut_with_expand():
    note = "调试送料机" * 200
    html = render_html(Card(title="待审核申领 #1", fields=(Field("备注", note),)))
    assert f"<summary>{EXPAND}</summary>" in html
    assert html.count(note) == 1  # the whole note is there once, behind 展开
    assert "调试送料机" * 18 + "…" in html


def test_short_lines_are_not_cut():
    assert EXPAND not in render_html(Text("积分"))


def test_root_redirects_to_the_chat_in_development(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/local/"


def test_root_is_a_short_page_in_production(db_url, tmp_path):
    env = {"DATABASE_URL": db_url, "BOT_ENV": "production", "BOT_SECRET_KEY": "p" * 32,
           "BOT_LEDGER_KEY": "l" * 32, "BOT_VAR_DIR": str(tmp_path)}  # fmt: skip
    app = create_app({"CONFIG": load_config(env)})
    page = app.test_client().get("/")
    assert page.status_code == 200 and "/console/" in page.get_data(as_text=True)
    app.extensions["bot"].engine.dispose()
