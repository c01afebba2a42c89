"""Feishu on the wire: signed, encrypted callbacks in; the fake Open API records what goes out.

What every platform must do (the claim flow, duplicates, wrong approver, card copies, strangers)
runs in tests/test_scenarios.py; this module keeps what only Feishu does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import bot_state, create_app
from bot.db import make_engine
from bot.models import Claim, ClaimState, Identity, InboundEvent, Outbox
from bot.runtime.delivery import idempotency_key
from bot.services.evidence import MAX_BYTES, PHOTO_TOO_LARGE
from bot.services.ledger import balance
from bot.signing import NOT_YOUR_BUTTON
from handlers.claim import PICK_TITLE
from tests.factories import make_team, photo_bytes
from tests.fakes.feishu import (
    IMAGES_PATH,
    MESSAGES_PATH,
    TOKEN_PATH,
    FakeFeishu,
    FeishuEvents,
    SentMessage,
    encrypt,
)
from tests.fakes.server import Reply

APP_ID = "cli_test_app"
TOKEN = "verification-token-1"
ENCRYPT_KEY = "encrypt-key-abc"
BOSS, WORKER, COLLEAGUE = "ou_boss", "ou_worker", "ou_colleague"
CARD_ACK = {"toast": {"type": "info", "content": "已收到，处理中"}}


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    """The fake Open API (fails the test on any unknown path)."""
    server = FakeFeishu().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake: FakeFeishu) -> dict[str, str]:
    """Feishu switched on, pointed at the fake."""
    return {
        "FEISHU_APP_ID": APP_ID,
        "FEISHU_APP_SECRET": "app-secret",
        "FEISHU_VERIFICATION_TOKEN": TOKEN,
        "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU_DOMAIN": fake.url,
    }


@pytest.fixture
def feishu(client, clock) -> FeishuEvents:
    """Posts callbacks built like Feishu's."""
    return FeishuEvents(client, clock, token=TOKEN, encrypt_key=ENCRYPT_KEY, app_id=APP_ID)


@pytest.fixture
def team(session):
    """王主管 with two workers, all with Feishu open_ids."""
    boss, (worker, colleague) = make_team(session)
    for employee, open_id in ((boss, BOSS), (worker, WORKER), (colleague, COLLEAGUE)):
        session.add(Identity(employee=employee, platform="feishu", external_id=open_id))
    session.commit()
    return boss, worker, colleague


def inbound_count(session) -> int:
    session.commit()  # end the read snapshot: see what the app committed since
    session.expire_all()
    return session.scalar(select(func.count(InboundEvent.id)))


def assert_no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """Bad input is answered, not logged as a failure of ours."""
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert noisy == [], [r.getMessage() for r in noisy]


def is_row_key(uuid: str | None, row: Outbox) -> bool:
    """True when `uuid` is the outbox row's idempotency key and fits Feishu's 50 characters."""
    return uuid == idempotency_key(row.id, row.created_at) and len(uuid) <= 50


def tags(card_json: dict[str, Any]) -> list[str]:
    return [element["tag"] for element in card_json["body"]["elements"]]


def send_photo(feishu: FeishuEvents, fake: FakeFeishu, open_id: str, seed: int = 1) -> str:
    """The user sends a photo; the fake serves its bytes. Returns the inbound message id."""
    message_id, image_key = feishu.next_id("om_img_"), feishu.next_id("img_in_")
    fake.serve_resource(message_id, image_key, photo_bytes(seed))
    assert feishu.image(open_id, image_key, message_id).status_code == 200
    return message_id


def claim_by_photo(feishu, fake, drain, code: str = "A01", seed: int = 1) -> SentMessage:
    """Photo → rule card → tap `code`; returns the supervisor's approval card."""
    send_photo(feishu, fake, WORKER, seed)
    drain()
    pick = fake.last_card(WORKER, PICK_TITLE)
    assert feishu.press(WORKER, pick, code).json == CARD_ACK
    drain()
    return fake.last_card(BOSS, "待审核申领")


# -- verification and refusals --------------------------------------------------------------------


def test_encrypted_challenge_is_answered(feishu):
    response = feishu.challenge("ch-encrypted")
    assert response.status_code == 200 and response.json == {"challenge": "ch-encrypted"}


def test_plain_challenge_is_answered(feishu):
    response = feishu.challenge("ch-plain", encrypted=False)
    assert response.status_code == 200 and response.json == {"challenge": "ch-plain"}


def test_challenge_with_wrong_token_is_refused(feishu):
    response = feishu.challenge(token="someone-else")
    assert response.status_code == 403 and response.data == b""


@pytest.mark.parametrize("bad", ["0" * 64, "caf\u00e9"], ids=["hex", "non-ascii"])
def test_bad_signature_is_refused_without_detail(feishu, session, team, bad):
    # design §11: a bad signature or token is 403 with no detail, on every route.
    response = feishu.text(WORKER, "积分", signature=bad)
    assert response.status_code == 403 and response.data == b""
    assert inbound_count(session) == 0


def test_missing_signature_headers_are_refused(feishu, session, team):
    response = feishu.text(WORKER, "积分", signed=False)
    assert response.status_code == 403 and response.data == b""
    assert inbound_count(session) == 0


def test_wrong_verification_token_is_refused(feishu, session, team):
    feishu.token = "not-our-token"
    response = feishu.text(WORKER, "积分")
    assert response.status_code == 403 and response.data == b""
    assert inbound_count(session) == 0


@pytest.mark.parametrize("offset", [-301, 301], ids=["stale", "future"])
def test_timestamp_outside_five_minutes_is_refused(feishu, clock, session, team, offset):
    timestamp = str(int(clock.now().timestamp()) + offset)
    assert feishu.text(WORKER, "积分", timestamp=timestamp).status_code == 403
    assert inbound_count(session) == 0


def test_timestamp_within_five_minutes_is_accepted(feishu, clock, team):
    timestamp = str(int(clock.now().timestamp()) - 290)
    assert feishu.text(WORKER, "积分", timestamp=timestamp).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"encrypt": "!!not base64!!"}',
        b'{"encrypt": "QUJDREVGR0hJSktMTU5PUA=="}',
        b'{"encrypt": "\\u98de\\u4e66"}',
        b'{"a": ' + b"1" * 5000 + b"}",
        b"\xff\xfe{}",
    ],
    ids=[
        "not-json",
        "not-object",
        "bad-base64",
        "short-ciphertext",
        "non-ascii-ciphertext",
        "huge-integer",
        "not-utf8",
    ],
)
def test_malformed_body_is_400(feishu, session, raw):
    response = feishu.post({}, raw=raw)
    assert response.status_code == 400 and response.data == b""
    assert inbound_count(session) == 0


DEEP_ARRAY = b"[" * 50000
DEEP_OBJECT = b'{"a":' * 50000


@pytest.mark.parametrize("raw", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_unsigned_body_is_400(feishu, session, caplog, raw):
    # json.loads raises RecursionError here, not ValueError.
    response = feishu.post({}, raw=raw, signed=False)
    assert response.status_code == 400 and response.data == b""
    assert inbound_count(session) == 0
    assert_no_tracebacks(caplog)


@pytest.mark.parametrize("plaintext", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_plaintext_inside_encrypt_is_400(feishu, session, caplog, plaintext):
    raw = json.dumps({"encrypt": encrypt(ENCRYPT_KEY, plaintext)}).encode()
    response = feishu.post({}, raw=raw)
    assert response.status_code == 400 and response.data == b""
    assert inbound_count(session) == 0
    assert_no_tracebacks(caplog)


def _text_event(feishu: FeishuEvents, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A valid text message event from WORKER, then `change` applied to it."""
    payload = feishu.envelope(
        "im.message.receive_v1",
        {
            "sender": {"sender_id": {"open_id": WORKER}, "sender_type": "user"},
            "message": {
                "message_id": "om_hostile",
                "chat_id": "oc_p2p",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": "积分"}),
            },
        },
    )
    change(payload)
    return payload


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set payload[a][b][c] = value for path "a.b.c"."""

    def change(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = payload
        for key in parents:
            node = node[key]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (_set("event.message.content", DEEP_OBJECT.decode()), 400),
        (_set("event.message.content", "[" * 50000), 400),
        (_set("event.message.content", 5), 400),
        (_set("event.message.content", "[1]"), 400),
        (_set("header.event_id", "ev\x00nul"), 400),
        (_set("header.event_id", 7), 400),
        (_set("header.event_id", "e" * 500), 400),
        (_set("header.event_type", ["im.message.receive_v1"]), 400),
        (_set("header.token", "tok\ud800"), 403),
        (_set("event", []), 400),
        (_set("event.sender.sender_id", "ou_flat"), 400),
        (_set("event.sender.sender_id.open_id", "ou_\x00"), 400),
        (_set("event.sender.sender_id.open_id", "ou_\ud800"), 400),
        (_set("event.message.chat_type", "group"), 200),  # with a chat id: fine
        (lambda p: p["event"]["message"].update(chat_type="group", chat_id=None), 400),
        (lambda p: p["event"]["message"].update(chat_type="group", chat_id="oc_\x00"), 400),
    ],
    ids=[
        "content-deep-object",
        "content-deep-array",
        "content-not-string",
        "content-not-object",
        "event-id-nul",
        "event-id-number",
        "event-id-huge",
        "event-type-list",
        "token-lone-surrogate",
        "event-list",
        "sender-id-string",
        "open-id-nul",
        "open-id-lone-surrogate",
        "group-ok",
        "group-without-chat-id",
        "group-chat-id-nul",
    ],
)
def test_signed_event_with_hostile_fields_is_never_500(
    feishu, session, caplog, team, change, status
):
    # Encrypted and signed, so every check before the field reading passes.
    before = inbound_count(session)
    response = feishu.post(_text_event(feishu, change))
    assert response.status_code == status
    if status != 200:
        assert response.data == b""
        assert inbound_count(session) == before
    assert_no_tracebacks(caplog)


@pytest.mark.parametrize(
    "value",
    ["v1|approve|\x00", {"v": "v1|\ud800"}, {"v": ["v1"]}, {"v": "v" * 1025}],
    ids=["nul", "lone-surrogate", "list", "too-long"],
)
def test_click_with_unstorable_value_is_400(feishu, session, caplog, team, value):
    assert feishu.click(BOSS, value, "om_1").status_code == 400
    assert inbound_count(session) == 0
    assert_no_tracebacks(caplog)


def test_text_with_nul_and_lone_surrogate_is_answered(feishu, fake, session, drain, caplog, team):
    # What the user typed is kept, minus what no database column can hold.
    _boss, worker, _ = team
    assert feishu.text(WORKER, "积分\x00").status_code == 200
    assert feishu.text(WORKER, "\ud800").status_code == 200
    drain()
    points, help_card = fake.to(WORKER)
    assert points.title == f"{worker.name} 的积分"
    assert help_card.msg_type == "interactive"
    texts = [e.payload["text"] for e in session.scalars(select(InboundEvent))]
    assert texts == ["积分", "\ufffd"]
    assert_no_tracebacks(caplog)


def test_event_without_event_id_is_400(feishu, session):
    payload = feishu.envelope("im.message.receive_v1", {})
    del payload["header"]["event_id"]
    assert feishu.post(payload).status_code == 400


def test_message_with_garbled_content_is_400(feishu, session, team):
    payload = feishu.envelope(
        "im.message.receive_v1",
        {
            "sender": {"sender_id": {"open_id": WORKER}, "sender_type": "user"},
            "message": {"message_id": "om_x", "message_type": "text", "content": "{oops"},
        },
    )
    assert feishu.post(payload).status_code == 400
    assert inbound_count(session) == 0


def test_oversize_body_is_413(feishu, session):
    response = feishu.post({}, raw=b"{" + b" " * (1024 * 1024) + b"}")
    assert response.status_code == 413
    assert inbound_count(session) == 0


def test_unknown_event_type_is_acknowledged_and_ignored(feishu, session, drain, fake):
    payload = feishu.envelope("im.chat.member.bot.added_v1", {"chat_id": "oc_1"})
    response = feishu.post(payload)
    assert response.status_code == 200
    drain()
    assert inbound_count(session) == 0 and fake.messages == []


# -- messages in, replies out -------------------------------------------------------------------


def test_points_text_is_answered_with_uuid(feishu, fake, session, drain, team):
    _boss, worker, _ = team
    assert feishu.text(WORKER, "积分").status_code == 200
    drain()
    (reply,) = fake.to(WORKER)
    assert reply.receive_id_type == "open_id" and reply.msg_type == "interactive"
    assert reply.title == f"{worker.name} 的积分"
    row = session.scalars(select(Outbox)).one()
    assert row.state == "sent" and is_row_key(reply.uuid, row)
    (call,) = fake.calls(MESSAGES_PATH, "POST")
    assert call.query["receive_id_type"] == ["open_id"]
    assert call.headers["Authorization"] == "Bearer t-1"


def test_group_mention_is_answered_in_the_group(feishu, fake, drain, team):
    feishu.text(WORKER, "@_user_1 积分", chat_type="group", chat_id="oc_group")
    drain()
    (reply,) = fake.to("oc_group")
    assert reply.receive_id_type == "chat_id" and reply.title.endswith("的积分")
    assert fake.to(WORKER) == []


def test_claim_cards_are_json_2_with_the_photo_uploaded_once(feishu, fake, session, drain, team):
    card = claim_by_photo(feishu, fake, drain)
    # The rule-picking card went out as a 2.0 card and was patched to lose its buttons.
    pick = fake.last_card(WORKER, PICK_TITLE)
    assert pick.content["schema"] == "2.0" and pick.patches
    assert "column_set" not in tags(pick.current)
    # The supervisor's card carries the uploaded photo first.
    assert card.msg_type == "interactive" and card.content["schema"] == "2.0"
    assert card.content["body"]["elements"][0] == {
        "tag": "img",
        "img_key": card.content["body"]["elements"][0]["img_key"],
        "alt": {"tag": "plain_text", "content": "证据照片"},
        "scale_type": "fit_horizontal",
    }
    assert len(fake.uploads) == 1
    assert feishu.press(BOSS, card, "通过").json == CARD_ACK
    drain()
    assert len(fake.calls(f"{MESSAGES_PATH}/{card.message_id}", "PATCH")) == 1
    status = card.current["body"]["elements"][-1]
    assert status["tag"] == "markdown" and status["content"].startswith("已通过 · 王主管 · 10:00")
    assert card.current["header"]["template"] == "green"
    # The photo uploaded with the first send is reused for the update.
    assert len(fake.uploads) == 1


def test_redelivered_event_is_stored_once_under_its_event_id(feishu, fake, session, drain, team):
    card = claim_by_photo(feishu, fake, drain)
    for _ in range(3):
        assert feishu.press(BOSS, card, "通过", event_id="ev_same_click").json == CARD_ACK
    keys = session.scalars(select(InboundEvent.dedupe_key)).all()
    assert keys.count("evt:ev_same_click") == 1


@pytest.mark.parametrize("presser", [COLLEAGUE, "ou_stranger"])
def test_click_by_someone_else_is_refused_on_the_spot_with_a_toast(
    feishu, fake, session, drain, team, presser
):
    _boss, worker, _ = team
    card = claim_by_photo(feishu, fake, drain)
    before = inbound_count(session)
    answer = feishu.press(presser, card, "通过")
    assert answer.status_code == 200
    assert answer.json == {"toast": {"type": "error", "content": NOT_YOUR_BUTTON}}
    drain()
    assert inbound_count(session) == before and fake.to(presser) == []
    assert balance(session, worker.id) == 0
    assert session.scalars(select(Claim)).one().state == ClaimState.PENDING


def test_click_without_value_is_400(feishu, session, team):
    assert feishu.click(BOSS, {"other": 1}, "om_1").status_code == 400
    assert inbound_count(session) == 0


# -- delivery failures --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 400], ids=["http-429", "old-api-400"])
def test_rate_limited_send_is_retried_after_reset(
    feishu, fake, session, clock, drain, team, status
):
    # platforms.md §5: HTTP 429, or 400 on some old APIs, with code 99991400.
    fake.queue(
        "POST",
        MESSAGES_PATH,
        Reply(
            status,
            {"code": 99991400, "msg": "request trigger frequency limit"},
            headers={"x-ogw-ratelimit-reset": "7"},
        ),
    )
    feishu.text(WORKER, "积分")
    drain()
    assert fake.to(WORKER) == []
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending" and "rate limited" in row.last_error
    clock.advance(seconds=6)
    drain()
    assert fake.to(WORKER) == []
    clock.advance(seconds=2)
    drain()
    assert len(fake.to(WORKER)) == 1
    assert len(fake.calls(MESSAGES_PATH, "POST")) == 2


def test_rate_limited_token_fetch_is_retried_after_reset(feishu, fake, session, clock, drain, team):
    fake.queue(
        "POST",
        TOKEN_PATH,
        Reply(
            400,
            {"code": 99991400, "msg": "request trigger frequency limit"},
            headers={"x-ogw-ratelimit-reset": "9"},
        ),
    )
    feishu.text(WORKER, "积分")
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending" and "rate limited" in row.last_error
    clock.advance(seconds=8)  # past the default 5 s backoff, not yet past the reset
    drain()
    assert fake.to(WORKER) == [] and len(fake.calls(TOKEN_PATH)) == 1
    clock.advance(seconds=2)
    drain()
    assert len(fake.to(WORKER)) == 1 and len(fake.calls(TOKEN_PATH)) == 2
    session.refresh(row)
    assert row.state == "sent"


def test_per_recipient_send_limit_is_retried(feishu, fake, session, clock, drain, team):
    # im/v1/messages allows 5 QPS per user and per group; over it Feishu answers 230020.
    fake.queue(
        "POST",
        MESSAGES_PATH,
        Reply(400, {"code": 230020, "msg": "This operation triggers the frequency limit."}),
    )
    feishu.text(WORKER, "积分")
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending" and "230020" in row.last_error
    assert fake.to(WORKER) == []
    clock.advance(minutes=1)
    drain()
    assert len(fake.to(WORKER)) == 1
    session.refresh(row)
    assert row.state == "sent"


def test_server_error_is_retried_with_backoff(feishu, fake, session, clock, drain, team):
    fake.queue("POST", MESSAGES_PATH, Reply(500, {"code": 1, "msg": "internal error"}))
    feishu.text(WORKER, "积分")
    drain()
    assert fake.to(WORKER) == []
    clock.advance(minutes=5)
    drain()
    assert len(fake.to(WORKER)) == 1
    assert session.scalars(select(Outbox)).one().state == "sent"


def test_approval_card_whose_answer_is_lost_reaches_the_supervisor_once(
    feishu, fake, session, clock, drain, team
):
    boss, worker, _ = team

    def card_to_boss(rec) -> bool:
        return rec.json()["receive_id"] == BOSS

    fake.server.lose_answers("POST", MESSAGES_PATH, when=card_to_boss)
    send_photo(feishu, fake, WORKER)
    drain()
    feishu.press(WORKER, fake.last_card(WORKER, PICK_TITLE), "A01")
    drain()
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == boss.id)).one()
    assert row.state == "pending" and "ConnectionError" in row.last_error
    clock.advance(minutes=5)
    drain()
    session.refresh(row)
    assert row.state == "sent" and row.attempts == 2
    # Sent twice with one uuid: Feishu answers the repeat with the first message.
    sends = [c.json() for c in fake.calls(MESSAGES_PATH, "POST") if card_to_boss(c)]
    assert len(sends) == 2 and sends[0]["uuid"] == sends[1]["uuid"]
    assert is_row_key(sends[0]["uuid"], row)
    (card,) = fake.to(BOSS)
    assert feishu.press(BOSS, card, "通过").json == CARD_ACK
    drain()
    assert balance(session, worker.id) == 20
    assert card.current["body"]["elements"][-1]["content"].startswith("已通过")


def test_permanent_error_is_not_retried(feishu, fake, session, clock, drain, team):
    fake.queue("POST", MESSAGES_PATH, Reply(400, {"code": 230002, "msg": "bot not in chat"}))
    feishu.text(WORKER, "积分")
    drain()
    clock.advance(minutes=30)
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "dead" and "230002" in row.last_error
    assert len(fake.calls(MESSAGES_PATH, "POST")) == 1


def test_photo_refused_for_good_still_reaches_the_supervisor(
    feishu, fake, session, drain, caplog, team
):
    boss, worker, _ = team
    refused = Reply(400, {"code": 234011, "msg": "Can't regonnize the image format."})
    fake.queue("POST", IMAGES_PATH, refused, refused)  # for the send and for the update
    caplog.set_level(logging.WARNING, logger="adapters.feishu")
    card = claim_by_photo(feishu, fake, drain)
    # The card went out without its photo instead of being dead-lettered.
    assert "img" not in tags(card.content)
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == boss.id)).one()
    assert row.state == "sent"
    warnings = [r.getMessage() for r in caplog.records if "sending without it" in r.getMessage()]
    assert len(warnings) == 1 and "234011" in warnings[0]
    assert "app-secret" not in caplog.text and "Bearer" not in caplog.text

    assert feishu.press(BOSS, card, "通过").json == CARD_ACK
    drain()
    assert balance(session, worker.id) == 20
    # The update tried the photo once more, was refused again, and still went out.
    assert len(fake.calls(IMAGES_PATH, "POST")) == 2 and fake.uploads == []
    assert card.current["body"]["elements"][-1]["content"].startswith("已通过")
    assert "img" not in tags(card.current)


def test_retryable_photo_upload_error_retries_the_card(feishu, fake, session, clock, drain, team):
    boss, _worker, _ = team
    fake.queue("POST", IMAGES_PATH, Reply(500, {"code": 1, "msg": "internal error"}))
    send_photo(feishu, fake, WORKER)
    drain()
    feishu.press(WORKER, fake.last_card(WORKER, PICK_TITLE), "A01")
    drain()
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == boss.id)).one()
    assert row.state == "pending" and fake.to(BOSS) == []
    clock.advance(minutes=5)
    drain()
    card = fake.last_card(BOSS, "待审核申领")
    assert tags(card.content)[0] == "img" and len(fake.uploads) == 1


def test_expired_token_is_refetched_once(feishu, fake, drain, team):
    feishu.text(WORKER, "积分")
    drain()
    fake.expire_tokens()
    feishu.text(WORKER, "帮助")
    drain()
    assert len(fake.to(WORKER)) == 2
    assert len(fake.calls(TOKEN_PATH)) == 2
    assert fake.calls(MESSAGES_PATH, "POST")[-1].headers["Authorization"] == "Bearer t-3"


def test_token_is_shared_across_sends(feishu, fake, drain, team):
    for text in ("积分", "帮助", "排行"):
        feishu.text(WORKER, text)
    drain()
    assert len(fake.to(WORKER)) == 3 and len(fake.calls(TOKEN_PATH)) == 1


def test_token_is_shared_with_another_process(feishu, state, clock, fake, drain, team):
    # A second app on the same database stands in for a second gunicorn worker: it has its
    # own adapter and TokenCache, and finds the token the first one stored.
    feishu.text(WORKER, "积分")
    drain()
    engine = make_engine(state.engine.url.render_as_string(hide_password=False))
    other = create_app({"CONFIG": state.config, "CLOCK": clock, "ENGINE": engine})
    try:
        feishu_2 = FeishuEvents(
            other.test_client(), clock, token=TOKEN, encrypt_key=ENCRYPT_KEY, app_id=APP_ID
        )
        assert feishu_2.text(WORKER, "帮助", event_id="ev_other").status_code == 200
        bot_state(other).worker.drain()
    finally:
        bot_state(other).worker.stop()
        engine.dispose()
    assert len(fake.to(WORKER)) == 2 and len(fake.calls(TOKEN_PATH)) == 1
    auth = {c.headers["Authorization"] for c in fake.calls(MESSAGES_PATH, "POST")}
    assert auth == {"Bearer t-1"}


def test_token_is_refetched_once_when_it_nears_expiry(feishu, fake, clock, drain, team):
    feishu.text(WORKER, "积分")
    drain()
    # The fake's tokens last 7200 s; the cache refreshes 300 s early.
    clock.advance(seconds=7200 - 300 + 1)
    for text in ("帮助", "排行", "积分"):
        feishu.text(WORKER, text)
    drain()
    assert len(fake.to(WORKER)) == 4 and len(fake.calls(TOKEN_PATH)) == 2
    first, *later = [c.headers["Authorization"] for c in fake.calls(MESSAGES_PATH, "POST")]
    assert first == "Bearer t-1" and len(set(later)) == 1 and later[0] != first


def test_failed_image_download_is_retried(feishu, fake, session, clock, drain, team):
    message_id, image_key = "om_img_flaky", "img_flaky"
    fake.serve_resource(message_id, image_key, photo_bytes(5))
    path = f"{MESSAGES_PATH}/{message_id}/resources/{image_key}"
    fake.queue("GET", path, Reply(502, {"code": 1, "msg": "bad gateway"}))
    feishu.image(WORKER, image_key, message_id)
    drain()
    clock.advance(minutes=1)  # past the inbound retry's backoff
    drain()
    assert fake.last_card(WORKER, PICK_TITLE)
    assert len(fake.calls(path, "GET")) == 2
    assert len(fake.calls(IMAGES_PATH)) == 0


class TestPlaintextMode:
    """No encrypt key in the console: Feishu sends plaintext and only the token is checked."""

    @pytest.fixture
    def platform_env(self, fake: FakeFeishu) -> dict[str, str]:
        return {
            "FEISHU_APP_ID": APP_ID,
            "FEISHU_APP_SECRET": "app-secret",
            "FEISHU_VERIFICATION_TOKEN": TOKEN,
            "FEISHU_DOMAIN": fake.url,
        }

    def test_plaintext_challenge(self, feishu):
        response = feishu.challenge("ch-1", encrypted=False)
        assert response.json == {"challenge": "ch-1"}

    def test_plaintext_message_is_answered(self, feishu, fake, drain, team):
        assert feishu.text(WORKER, "积分", encrypted=False, signed=False).status_code == 200
        drain()
        assert len(fake.to(WORKER)) == 1

    def test_plaintext_wrong_token_is_refused(self, feishu, team):
        feishu.token = "nope"
        assert feishu.text(WORKER, "积分", encrypted=False, signed=False).status_code == 403

    def test_encrypted_body_without_key_is_400(self, feishu, team):
        assert feishu.text(WORKER, "积分", signed=False).status_code == 400


def test_oversize_photo_is_refused_with_a_reason(feishu, fake, session, drain, team):
    fake.serve_resource("om_img_huge", "img_huge", b"\xff\xd8" + b"\0" * (MAX_BYTES + 100))
    feishu.image(WORKER, "img_huge", "om_img_huge")
    drain()
    assert fake.texts(WORKER) == [PHOTO_TOO_LARGE]
    assert session.scalar(select(func.count(Claim.id))) == 0


# -- the points economy (design §15) ---------------------------------------------------------------

HR_OPEN_ID = "ou_hr"


def test_redeem_tap_and_hr_approval_on_feishu(feishu, fake, session, drain, team, clock):
    from bot.models import Reward, Role
    from bot.notices import rewards as reward_texts
    from bot.services.ledger import append_entry
    from tests.factories import make_employee

    _boss, worker, _ = team
    hr = make_employee(session, name="周敏", role=Role.HR)
    session.add(Identity(employee=hr, platform="feishu", external_id=HR_OPEN_ID))
    session.add(Reward(code="R01", title="定制保温杯", kind="goods", cost=100, stock=3))
    append_entry(session, worker, 250, kind="adjust", memo="t", now=clock.now())
    session.commit()
    feishu.text(WORKER, "兑换")
    drain()
    assert (
        feishu.press(WORKER, fake.last_card(WORKER, reward_texts.LIST_TITLE), "R01").json
        == CARD_ACK
    )
    drain()
    assert feishu.press(HR_OPEN_ID, fake.last_card(HR_OPEN_ID, "兑换申请"), "批准").json == CARD_ACK
    drain()
    assert fake.texts(WORKER)[-1].startswith("🎁 兑换已批准：定制保温杯 -100 分，当前余额 150 分。")


def test_suggestion_reaches_the_supervisor_on_feishu(feishu, fake, session, drain, team):
    feishu.text(WORKER, "建议 冲床换模时用定位销")
    drain()
    card = fake.last_card(BOSS, "💡 改善建议")
    assert feishu.press(BOSS, card, "不采纳").json == CARD_ACK
    drain()
    feishu.text(BOSS, "已有类似方案在试行")
    drain()
    assert fake.texts(WORKER)[-1].startswith("你的建议 #1 暂不采纳（王主管）")
