"""DingTalk on the wire: signed robot/card callbacks in, v1.0 sends to a fake DingTalk out.

What every platform must do (the claim flow, duplicates, wrong approver, card copies, strangers)
runs in tests/test_scenarios.py; this module keeps what only DingTalk does.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.models import Claim, ClaimState, Identity, InboundEvent, Outbox
from bot.notices.system import UNKNOWN_SENDER
from bot.services.ledger import balance
from handlers.claim import PICK_TITLE
from tests.factories import make_team, photo_bytes
from tests.fakes.dingtalk import (
    ACCESS_TOKEN,
    AES_KEY,
    BATCH_SEND,
    CARD_SEND,
    CARD_UPDATE,
    FILE_DOWNLOAD,
    GROUP_SEND,
    ROBOT_CODE,
    TEMPLATE_CREATE,
    TEMPLATE_UPDATE,
    TOKEN,
    FakeDingtalk,
    button_value,
    card_click,
    card_texts,
    card_title,
    decrypt_answer,
    encrypted_event,
    event_query,
    post_card,
    post_robot,
    robot_message,
    sign_headers,
)

BOSS, WORKER, COLLEAGUE = "boss01", "w01", "w02"


@pytest.fixture
def fake():
    """The fake DingTalk, stopped (and checked for unknown paths) after the test."""
    server = FakeDingtalk().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake, request):
    """DingTalk on, pointed at the fake; indirect params add variables (events, template)."""
    return fake.env(**getattr(request, "param", {}))


EVENTS_ON = {"DINGTALK_TOKEN": TOKEN, "DINGTALK_AES_KEY": AES_KEY}
TEMPLATE_ON = {"DINGTALK_CARD_TEMPLATE_ID": "tpl-claim.schema"}


@pytest.fixture
def team(session):
    """王主管 with two workers, each with a DingTalk staff id."""
    boss, (worker, colleague) = make_team(session)
    for who, uid in ((boss, BOSS), (worker, WORKER), (colleague, COLLEAGUE)):
        session.add(Identity(employee=who, platform="dingtalk", external_id=uid))
    session.commit()
    return boss, worker, colleague


def say(client, clock, uid, text, **kw):
    """A signed text message to the robot."""
    return post_robot(client, clock.now(), robot_message(uid, text=text, **kw))


def send_photo(client, clock, fake, uid, seed=1):
    """A signed picture message whose downloadCode the fake resolves to a photo."""
    code = f"dl-{uid}-{seed}"
    fake.add_file(code, photo_bytes(seed))
    return post_robot(client, clock.now(), robot_message(uid, download_code=code))


def click(client, clock, card, label, uid):
    """Press a button of a card the fake received, as `uid`."""
    body = card_click(card["cardBizId"], uid, button_value(card["cardData"], label))
    return post_card(client, clock.now(), body)


def last_card(fake, uid, title_prefix):
    """The newest card sent to `uid` with that title."""
    for card in reversed(fake.cards_to(uid)):
        if card_title(card["cardData"]).startswith(title_prefix):
            return card
    raise AssertionError(f"no card {title_prefix!r} sent to {uid}")


def claim_by_photo(client, clock, fake, drain, seed=1, code="A01"):
    """Photo → rule card → tap a rule; returns the supervisor's approval card."""
    assert send_photo(client, clock, fake, WORKER, seed).status_code == 200
    drain()
    assert click(client, clock, last_card(fake, WORKER, PICK_TITLE), code, WORKER).json == {}
    drain()
    return last_card(fake, BOSS, "待审核申领")


# -- inbound checks ------------------------------------------------------------------------------


def test_text_points_is_answered_by_batch_send(client, clock, fake, team, drain):
    assert say(client, clock, WORKER, "积分").status_code == 200
    drain()
    (call,) = fake.server.calls(BATCH_SEND)
    body = call.json()
    assert body["userIds"] == [WORKER] and body["robotCode"] == ROBOT_CODE
    assert body["msgKey"] == "sampleText"
    assert json.loads(body["msgParam"])["content"].startswith(f"【{team[1].name} 的积分】")
    assert call.headers["x-acs-dingtalk-access-token"] == fake.issued[0]


def test_bad_signature_is_refused_without_detail(client, clock, session, fake, team):
    body = robot_message(WORKER, text="积分")
    resp = post_robot(client, clock.now(), body, secret="wrong-secret")
    assert (resp.status_code, resp.data) == (403, b"")
    resp = client.post("/dingtalk/robot", json=body)  # no headers at all
    assert resp.status_code == 403
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


def test_replay_window_is_one_hour(client, clock, fake, team):
    statuses = [
        post_robot(
            client, clock.now(), robot_message(WORKER, text="积分"), skew_ms=minutes * 60_000
        ).status_code
        for minutes in (-61, 61, -59, 59)
    ]
    assert statuses == [403, 403, 200, 200]


def test_malformed_json_is_400(client, clock, fake, team):
    from tests.fakes.dingtalk import sign_headers

    headers = {**sign_headers(clock.now()), "Content-Type": "application/json"}
    assert client.post("/dingtalk/robot", data=b"{not json", headers=headers).status_code == 400
    assert (
        client.post("/dingtalk/robot", json={"msgtype": "text"}, headers=headers).status_code == 400
    )
    assert client.post("/dingtalk/card", data=b"[", headers=headers).status_code == 400


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _robot_json(**fields) -> bytes:
    body = robot_message(WORKER, text="积分")
    body.update(fields)
    return json.dumps(body).encode()


def _card_json(**fields) -> bytes:
    body = card_click("track1", BOSS, "v1|approve|1||1|9|x")
    body.update(fields)
    return json.dumps(body).encode()


def _with_raw(body: bytes, key: bytes, raw: bytes) -> bytes:
    """Replace the JSON value of `key` in `body` with raw JSON text (deep nesting, escapes)."""
    start = body.index(b'"' + key + b'": ') + len(key) + 4
    end = start + len(json.dumps(json.loads(body)[key.decode()]).encode())
    return body[:start] + raw + body[end:]


# Bodies no route may answer with anything but 400/403: not JSON, not an object, too deep for
# json.loads (RecursionError, not ValueError), or an object with fields of the wrong type.
GARBAGE = {
    "deep array": b"[" * 50000,
    "deep object": b'{"a":' * 50000,
    "array": b"[1, 2]",
    "number": b"42",
    "string": b'"text"',
    "null": b"null",
    "empty": b"",
    "not utf-8": b'{"msgId": "\xff\xfe", "text": "\xc3"}',
    "latin-1": '{"msgId": "é", "senderStaffId": "ß"}'.encode("latin-1"),
    "huge number": b'{"msgId": ' + b"9" * 5000 + b"}",
}
ROBOT_HOSTILE = {
    "text is a number": _robot_json(text=5),
    "text content is a list": _robot_json(text={"content": []}),
    "text content is an object": _robot_json(text={"content": {"a": 1}}),
    "picture content is a list": _robot_json(msgtype="picture", content=[]),
    "picture code is a number": _robot_json(msgtype="picture", content={"downloadCode": 5}),
    "richText is a string": _robot_json(msgtype="richText", content={"richText": "x"}),
    "richText part is a number": _robot_json(msgtype="richText", content={"richText": [1]}),
    "msgtype is a list": _robot_json(msgtype=["text"]),
    "msgId is a number": _robot_json(msgId=5),
    "sender is a list": _robot_json(senderStaffId=["w01"]),
    "conversationType is an object": _robot_json(conversationType={"a": "2"}),
    "conversationId is a number": _robot_json(conversationType="2", conversationId=7),
    "webhook expiry is a string": _robot_json(sessionWebhookExpiredTime="soon"),
    "deep text content": _with_raw(
        _robot_json(text={"content": "x"}), b"text", b'{"content": ' + _nested(900).encode() + b"}"
    ),
    "deep conversationType": _with_raw(_robot_json(), b"conversationType", _nested(900).encode()),
    "lone surrogate msgId": _with_raw(_robot_json(), b"msgId", b'"\\ud800"'),
    "lone surrogate text": _with_raw(
        _robot_json(), b"text", b'{"content": "\\udc00 \\u79ef\\u5206"}'
    ),
}
CARD_HOSTILE = {
    "outTrackId is a number": _card_json(outTrackId=5),
    "outTrackId is empty": _card_json(outTrackId=""),
    "userId is a list": _card_json(userId=["boss01"]),
    "corpId is an object": _card_json(corpId={"id": "dingcorp"}),
    "content is a number": _card_json(content=5, value=5),
    "content is a list": _card_json(content=[], value=[]),
    "content is not JSON": _card_json(content="{oops", value="{oops"),
    "content is a JSON list": _card_json(content="[1]", value="[1]"),
    "content is deeply nested": _card_json(content="[" * 50000, value="[" * 50000),
    "deep content object": _with_raw(_card_json(), b"content", _nested(900).encode()),
    "lone surrogate outTrackId": _with_raw(_card_json(), b"outTrackId", b'"\\udfff"'),
    "lone surrogate userId": _with_raw(_card_json(), b"userId", b'"\\ud800x"'),
}
# Event subscription: an outer body that is not {"encrypt": "<str>"}, or a correctly signed and
# encrypted plaintext that is not an event object.
EVENTS_OUTER = {
    "encrypt is a number": b'{"encrypt": 5}',
    "encrypt is a list": b'{"encrypt": []}',
    "no encrypt": b'{"msg": "x"}',
}
EVENTS_PLAINTEXT = {
    "deep array": b"[" * 50000,
    "deep object": b'{"a":' * 50000,
    "array": b"[]",
    "number": b"5",
    "string": b'"check_url"',
    "empty": b"",
    "not utf-8": b'{"EventType": "\xff"}',
    "EventType is a number": b'{"EventType": 5}',
    "EventType is deep": b'{"EventType": ' + _nested(900).encode() + b"}",
    "no EventType": b'{"UserId": ["u1"]}',
}


@pytest.mark.parametrize("platform_env", [EVENTS_ON], indirect=True)
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("route", ["robot", "card", "events"])
def test_hostile_bodies_are_refused_never_crash(
    client, clock, session, fake, team, caplog, route, signed
):
    bodies = dict(GARBAGE)
    bodies.update({"robot": ROBOT_HOSTILE, "card": CARD_HOSTILE, "events": EVENTS_OUTER}[route])
    posts = [(f"/dingtalk/{route}", body, name) for name, body in bodies.items()]
    if route == "events":
        for name, plaintext in EVENTS_PLAINTEXT.items():
            query, sealed = encrypted_event(plaintext, clock.now())
            if not signed:
                query = query.replace("signature=", "signature=0")
            posts.append((f"/dingtalk/events?{query}", json.dumps(sealed).encode(), name))
        # An `encrypt` that is no AES envelope: refused (403) unless correctly signed (then 400).
        query = event_query("!!not-base64!!", clock.now(), token=TOKEN if signed else "other")
        posts.append((f"/dingtalk/events?{query}", b'{"encrypt": "!!not-base64!!"}', "no AES"))
    headers = sign_headers(clock.now()) if signed else {}
    answers = {}
    with caplog.at_level("WARNING"):
        for url, body, name in posts:
            resp = client.post(
                url, data=body, headers={**headers, "Content-Type": "application/json"}
            )
            answers[name] = (resp.status_code, b"Traceback" in resp.data)
    wrong = {name: a for name, a in answers.items() if a[0] not in (400, 403) or a[1]}
    assert wrong == {}
    if route != "events":  # the signature is checked first: an unsigned body is never read
        assert {a[0] for a in answers.values()} == ({400} if signed else {403})
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert "Traceback" not in caplog.text
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


def test_oversize_body_is_413(client, clock, fake, team):
    body = robot_message(WORKER, text="x" * (1024 * 1024 + 10))
    assert post_robot(client, clock.now(), body).status_code == 413


def test_sender_outside_the_org_is_answered_on_the_session_webhook(client, clock, fake, drain):
    body = robot_message("ignored", text="积分", now=clock.now())
    del body["senderStaffId"]
    body["sessionWebhook"] = f"{fake.url}/robot/sendBySession?session=abc"
    post_robot(client, clock.now(), body)
    drain()
    (call,) = fake.server.calls("/robot/sendBySession")
    assert call.query == {"session": ["abc"]}
    assert call.json() == {"msgtype": "text", "text": {"content": UNKNOWN_SENDER}}
    assert not fake.server.calls(BATCH_SEND)


def test_session_webhook_elsewhere_is_never_called(client, clock, session, fake, drain):
    body = robot_message("ignored", text="积分", now=clock.now())
    del body["senderStaffId"]
    body["sessionWebhook"] = "https://evil.example/hook"
    post_robot(client, clock.now(), body)
    drain()
    assert session.scalars(select(Outbox)).one().state == "dead"


def test_group_message_is_answered_in_the_group(client, clock, fake, team, drain):
    say(client, clock, WORKER, "积分", group="cidGROUP1")
    drain()
    (call,) = fake.server.calls(GROUP_SEND)
    assert call.json()["openConversationId"] == "cidGROUP1"
    assert not fake.server.calls(BATCH_SEND)


# -- the claim loop on the wire (the flow itself runs in tests/test_scenarios.py) ------------------


def test_approval_card_shows_the_uploaded_photo_and_calls_back_to_the_card_route(
    client, clock, session, fake, team, drain
):
    approval = claim_by_photo(client, clock, fake, drain)
    (download,) = fake.server.calls(FILE_DOWNLOAD)
    assert download.json() == {"downloadCode": f"dl-{WORKER}-1", "robotCode": ROBOT_CODE}
    image = approval["cardData"]["contents"][0]
    assert image["type"] == "image" and image["image"].startswith("@lADmedia")
    assert approval["callbackUrl"].endswith("/dingtalk/card")
    assert click(client, clock, approval, "通过", BOSS).status_code == 200
    drain()
    (update,) = fake.card_updates(approval["cardBizId"])
    assert any(t.startswith("已通过 · 王主管 · 10:00") for t in card_texts(update))
    assert not [c for c in update["contents"] if c["type"] == "action"]
    # The image was uploaded once and reused for the update.
    assert len(fake.server.calls("/media/upload")) == 1


def test_card_callback_needs_a_valid_signature(client, clock, session, fake, team, drain):
    approval = claim_by_photo(client, clock, fake, drain)
    body = card_click(approval["cardBizId"], BOSS, button_value(approval["cardData"], "通过"))
    assert post_card(client, clock.now(), body, secret="nope").status_code == 403
    assert post_card(client, clock.now(), body, skew_ms=-3_601_000).status_code == 403
    drain()
    assert session.scalars(select(Claim)).one().state == ClaimState.PENDING


@pytest.mark.parametrize("platform_env", [{"DINGTALK_CORP_ID": "dingothercorp"}], indirect=True)
def test_card_click_from_another_corp_is_refused(client, clock, session, fake, team):
    resp = post_card(client, clock.now(), card_click("track1", BOSS, "v1|approve|1||1|9|x"))
    assert (resp.status_code, resp.data) == (403, b"")
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


@pytest.mark.parametrize("platform_env", [{"DINGTALK_CORP_ID": "dingcorp"}], indirect=True)
def test_card_click_must_name_the_configured_corp(client, clock, session, fake, team):
    value = "v1|approve|1||1|9|x"
    for corp in (None, "", "DINGCORP", "dingothercorp"):
        body = card_click("track1", BOSS, value)
        if corp is None:
            del body["corpId"]
        else:
            body["corpId"] = corp
        resp = post_card(client, clock.now(), body)
        assert (resp.status_code, resp.data) == (403, b""), corp
    assert session.scalar(select(func.count(InboundEvent.id))) == 0
    session.commit()  # end the read snapshot
    assert post_card(client, clock.now(), card_click("track1", BOSS, value)).status_code == 200
    assert session.scalar(select(func.count(InboundEvent.id))) == 1


def test_card_click_without_value_is_ignored(client, clock, session, fake, team):
    body = card_click("track1", BOSS, "x")
    body["content"] = json.dumps({"cardPrivateData": {"actionIds": ["b"], "params": {}}})
    body["value"] = body["content"]
    resp = post_card(client, clock.now(), body)
    assert (resp.status_code, resp.json) == (200, {})
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


# -- delivery failures -----------------------------------------------------------------------------


def test_server_error_then_ok_delivers_once_after_backoff(
    client, clock, session, fake, team, drain
):
    fake.fail(BATCH_SEND, 500)
    say(client, clock, WORKER, "积分")
    drain()
    assert fake.texts_to(WORKER) == []
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending" and "500" in row.last_error
    drain()  # not due yet: nothing moves
    assert len(fake.server.calls(BATCH_SEND)) == 1
    clock.advance(minutes=5)
    drain()
    assert len(fake.texts_to(WORKER)) == 1 and len(fake.server.calls(BATCH_SEND)) == 2
    session.refresh(row)
    assert row.state == "sent"


def test_approval_card_whose_answer_is_lost_reaches_the_supervisor_once(
    client, clock, session, fake, team, drain
):
    boss, worker, _ = team

    def card_to_boss(rec):
        return json.loads(rec.json()["singleChatReceiver"]).get("userId") == BOSS

    fake.server.lose_answers("POST", CARD_SEND, when=card_to_boss)
    assert send_photo(client, clock, fake, WORKER).status_code == 200
    drain()
    click(client, clock, last_card(fake, WORKER, PICK_TITLE), "A01", WORKER)
    drain()
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == boss.id)).one()
    assert row.state == "pending" and "ConnectionError" in row.last_error
    clock.advance(minutes=5)
    drain()
    session.refresh(row)
    assert row.state == "sent" and row.attempts == 2
    # Sent twice under one outTrackId: DingTalk keeps the first card and ignores the repeat.
    sends = [c.json() for c in fake.server.calls(CARD_SEND) if card_to_boss(c)]
    assert len(sends) == 2 and sends[0]["cardBizId"] == sends[1]["cardBizId"]
    (approval,) = fake.cards_to(BOSS)
    assert click(client, clock, approval, "通过", BOSS).status_code == 200
    drain()
    assert balance(session, worker.id) == 20
    (update,) = fake.card_updates(approval["cardBizId"])
    assert any(t.startswith("已通过") for t in card_texts(update))


def test_retryable_and_permanent_errors(client, clock, session, fake, team, drain):
    outcomes = {}
    for status in (429, 503, 400, 403):
        fake.fail(BATCH_SEND, status)
        say(client, clock, WORKER, "积分")
        drain()
        outcomes[status] = session.scalars(select(Outbox).order_by(Outbox.id.desc())).first().state
    assert outcomes == {429: "pending", 503: "pending", 400: "dead", 403: "dead"}


@pytest.mark.parametrize(
    ("status", "answer", "outcome"),
    [
        # Throttling, by exact code: retried.
        (403, {"code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"}, "pending"),
        (403, {"code": "Forbidden.AccessDenied.QpsLimitForApi"}, "pending"),
        # Permanent, whatever words the code contains.
        (400, {"code": "InvalidParameter.LengthLimit", "message": "too long"}, "dead"),
        (403, {"code": "Forbidden.AccessDenied.ApiCountLimitForOrg"}, "dead"),
        (400, {"code": "param.throttlingSettingInvalid"}, "dead"),
    ],
)
def test_throttling_is_recognised_by_exact_code(
    client, clock, session, fake, team, drain, status, answer, outcome
):
    fake.fail(BATCH_SEND, status, body=answer)
    say(client, clock, WORKER, "积分")
    drain()
    assert session.scalars(select(Outbox)).one().state == outcome


def test_robot_blocked_for_ten_minutes_waits_ten_minutes(client, clock, session, fake, team, drain):
    # The sessionWebhook answers like the robot send API: HTTP 200 with an errcode.
    fake.fail("/robot/sendBySession", 200, body={"errcode": 130101, "errmsg": "send too fast"})
    body = robot_message("ignored", text="积分", now=clock.now())
    del body["senderStaffId"]
    body["sessionWebhook"] = f"{fake.url}/robot/sendBySession?session=abc"
    post_robot(client, clock.now(), body)
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending" and "130101" in row.last_error
    assert row.next_attempt_at == clock.now() + timedelta(seconds=600)
    clock.advance(seconds=599)
    drain()
    assert len(fake.server.calls("/robot/sendBySession")) == 1
    clock.advance(seconds=2)
    drain()
    assert len(fake.server.calls("/robot/sendBySession")) == 2
    session.refresh(row)
    assert row.state == "sent"


def test_robot_blocked_code_in_a_v1_answer_is_retried_after_ten_minutes(
    client, clock, session, fake, team, drain
):
    fake.fail(BATCH_SEND, 400, body={"code": "130101", "message": "send too fast"})
    say(client, clock, WORKER, "积分")
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending"
    assert row.next_attempt_at == clock.now() + timedelta(seconds=600)


def test_expired_token_is_refreshed_and_the_send_retried_once(client, clock, fake, team, drain):
    say(client, clock, WORKER, "积分")
    drain()
    fake.expire_tokens()
    say(client, clock, WORKER, "帮助")
    drain()
    assert len(fake.server.calls(ACCESS_TOKEN)) == 2
    assert len(fake.texts_to(WORKER)) == 2
    assert fake.server.calls(BATCH_SEND)[-1].headers["x-acs-dingtalk-access-token"] == "tok3"


def test_token_is_cached_across_sends(client, clock, fake, team, drain):
    for text in ("积分", "帮助", "排行"):
        say(client, clock, WORKER, text)
    drain()
    assert len(fake.server.calls(ACCESS_TOKEN)) == 1


def test_expired_oapi_token_is_refreshed_for_image_upload(
    client, clock, session, fake, team, drain
):
    send_photo(client, clock, fake, WORKER, seed=1)
    drain()
    click(client, clock, last_card(fake, WORKER, PICK_TITLE), "A01", WORKER)
    drain()
    fake.expire_oapi_token()
    send_photo(client, clock, fake, WORKER, seed=2)
    drain()
    click(client, clock, last_card(fake, WORKER, PICK_TITLE), "A01", WORKER)
    drain()
    assert len(fake.server.calls("/gettoken")) == 2
    assert len(fake.server.calls("/media/upload")) == 3  # one refused with errcode 40014
    assert len(fake.cards_to(BOSS)) == 2


def _card_images(card_data):
    return [c for c in card_data["contents"] if c["type"] == "image"]


def test_card_image_refused_for_good_still_reaches_the_supervisor(
    client, clock, session, fake, team, drain, caplog
):
    _, worker, _ = team
    refused = {"errcode": 40005, "errmsg": "不合法的文件类型"}
    fake.fail("/media/upload", 200, body=refused, times=2)  # at the send and at the update
    with caplog.at_level("WARNING", logger="adapters.dingtalk"):
        approval = claim_by_photo(client, clock, fake, drain)
    assert not _card_images(approval["cardData"])
    assert button_value(approval["cardData"], "通过")
    assert {r.state for r in session.scalars(select(Outbox))} == {"sent"}
    warning = next(r.getMessage() for r in caplog.records if "refused" in r.getMessage())
    assert "40005" in warning and fake.oapi_token not in warning
    assert "dingtest-app-secret" not in caplog.text
    click(client, clock, approval, "通过", BOSS)
    drain()
    assert balance(session, worker.id) == 20
    (update,) = fake.card_updates(approval["cardBizId"])
    assert not _card_images(update) and any(t.startswith("已通过") for t in card_texts(update))
    assert len(fake.server.calls("/media/upload")) == 2


@pytest.mark.parametrize(
    ("status", "answer"),
    [(502, {"errmsg": "bad gateway"}), (200, {"errcode": 90018, "errmsg": "qps limit"})],
)
def test_card_image_failing_for_now_retries_the_card(
    client, clock, session, fake, team, drain, status, answer
):
    boss, _, _ = team
    fake.fail("/media/upload", status, body=answer)
    assert send_photo(client, clock, fake, WORKER).status_code == 200
    drain()
    click(client, clock, last_card(fake, WORKER, PICK_TITLE), "A01", WORKER)
    drain()
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == boss.id)).one()
    assert row.state == "pending" and not fake.cards_to(BOSS)
    clock.advance(minutes=5)
    drain()
    (approval,) = fake.cards_to(BOSS)
    assert _card_images(approval["cardData"])[0]["image"].startswith("@lADmedia")


def test_unsupported_message_type_is_still_answered(client, clock, fake, team, drain):
    body = robot_message(WORKER, text="x")
    body.pop("text")
    body["msgtype"] = "audio"
    body["content"] = {"duration": 3, "downloadCode": "voice"}
    assert post_robot(client, clock.now(), body).status_code == 200
    drain()
    assert fake.texts_to(WORKER) or fake.cards_to(WORKER)


def test_failed_download_is_retried(client, clock, fake, team, drain):
    fake.fail(FILE_DOWNLOAD, 502, times=2)
    send_photo(client, clock, fake, WORKER)
    for _ in range(3):  # the worker takes the event up again once its backoff is over
        drain()
        clock.advance(minutes=2)
    assert last_card(fake, WORKER, PICK_TITLE)
    assert len(fake.server.calls(FILE_DOWNLOAD)) == 3


def test_download_failing_for_good_tells_the_worker(client, clock, fake, team, drain):
    fake.fail(FILE_DOWNLOAD, 502, times=10)
    send_photo(client, clock, fake, WORKER)
    for _ in range(6):
        drain()
        clock.advance(minutes=5)
    assert fake.texts_to(WORKER) == ["图片下载失败，请重新发送照片。"]


# -- card templates (DINGTALK_CARD_TEMPLATE_ID) ----------------------------------------------------


@pytest.mark.parametrize("platform_env", [TEMPLATE_ON], indirect=True)
def test_template_cards_use_create_and_deliver_and_update(
    client, clock, session, fake, team, drain
):
    _, worker, _ = team
    send_photo(client, clock, fake, WORKER)
    drain()
    (create,) = fake.server.calls(TEMPLATE_CREATE)
    body = create.json()
    assert body["cardTemplateId"] == "tpl-claim.schema"
    assert body["openSpaceId"] == f"dtv1.card//IM_ROBOT.{WORKER}"
    assert body["imRobotOpenDeliverModel"]["robotCode"] == ROBOT_CODE
    params = body["cardData"]["cardParamMap"]
    assert params["title"] == PICK_TITLE and all(isinstance(v, str) for v in params.values())
    value = next(b["value"] for b in json.loads(params["buttons"]) if b["text"].startswith("A01"))
    post_card(client, clock.now(), card_click(body["outTrackId"], WORKER, value))
    drain()
    approval = fake.server.calls(TEMPLATE_CREATE)[-1].json()
    approve = next(
        b["value"]
        for b in json.loads(approval["cardData"]["cardParamMap"]["buttons"])
        if b["text"] == "通过"
    )
    post_card(client, clock.now(), card_click(approval["outTrackId"], BOSS, approve))
    drain()
    assert balance(session, worker.id) == 20
    updated = [
        c.json()
        for c in fake.server.calls(TEMPLATE_UPDATE, "PUT")
        if c.json()["outTrackId"] == approval["outTrackId"]
    ]
    assert updated[-1]["cardData"]["cardParamMap"]["status"].startswith("已通过 · 王主管")
    assert json.loads(updated[-1]["cardData"]["cardParamMap"]["buttons"]) == []
    assert not fake.server.calls(CARD_SEND) and not fake.server.calls(CARD_UPDATE)


# -- event subscription ----------------------------------------------------------------------------


@pytest.mark.parametrize("platform_env", [EVENTS_ON], indirect=True)
def test_check_url_is_answered_with_encrypted_success(client, clock, fake):
    query, body = encrypted_event({"EventType": "check_url"}, clock.now())
    resp = client.post(f"/dingtalk/events?{query}", json=body)
    assert resp.status_code == 200
    assert decrypt_answer(resp.json) == "success"


@pytest.mark.parametrize("platform_env", [EVENTS_ON], indirect=True)
def test_unknown_event_type_is_acknowledged_and_ignored(client, clock, session, fake):
    query, body = encrypted_event({"EventType": "user_add_org", "UserId": ["u1"]}, clock.now())
    resp = client.post(f"/dingtalk/events?{query}", json=body)
    assert resp.status_code == 200 and decrypt_answer(resp.json) == "success"
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


@pytest.mark.parametrize("platform_env", [EVENTS_ON], indirect=True)
def test_event_with_bad_signature_is_403(client, clock, fake):
    query, body = encrypted_event({"EventType": "check_url"}, clock.now(), token="other-token")
    resp = client.post(f"/dingtalk/events?{query}", json=body)
    assert (resp.status_code, resp.data) == (403, b"")
    query, _ = encrypted_event({"EventType": "check_url"}, clock.now())
    assert client.post(f"/dingtalk/events?{query}", data=b"{oops").status_code == 400


def test_events_route_is_off_without_token_and_aes_key(client, clock, fake):
    query, body = encrypted_event({"EventType": "check_url"}, clock.now())
    assert client.post(f"/dingtalk/events?{query}", json=body).status_code == 404


def test_group_sends_are_paced_at_20_per_minute(session, clock, drain, fake):
    """DingTalk blocks a robot for 10 minutes after 20 messages a minute in one group."""
    from bot.outbox import enqueue
    from cards import Text

    rows = [
        enqueue(
            session,
            Text(f"通知{i}"),
            now=clock.now(),
            platform="dingtalk",
            target={"chat_id": "cid1"},
        )
        for i in range(21)
    ]
    drain()
    assert len([p for p, _ in fake.delivered if p == GROUP_SEND]) == 20
    held = session.get(Outbox, rows[-1].id)
    assert held.state == "pending" and held.attempts == 0
    clock.advance(seconds=61)
    drain()
    assert len([p for p, _ in fake.delivered if p == GROUP_SEND]) == 21


# -- the points economy (design §15) ---------------------------------------------------------------

HR_UID = "hr01"


def test_redeem_tap_and_hr_approval_on_dingtalk(client, clock, session, fake, team, drain):
    from bot.models import Reward, Role
    from bot.notices import rewards as reward_texts
    from bot.services.ledger import append_entry
    from tests.factories import make_employee

    _boss, worker, _ = team
    hr = make_employee(session, name="周敏", role=Role.HR)
    session.add(Identity(employee=hr, platform="dingtalk", external_id=HR_UID))
    session.add(Reward(code="R01", title="定制保温杯", kind="goods", cost=100, stock=3))
    append_entry(session, worker, 250, kind="adjust", memo="t", now=clock.now())
    session.commit()
    say(client, clock, WORKER, "兑换")
    drain()
    assert (
        click(client, clock, last_card(fake, WORKER, reward_texts.LIST_TITLE), "R01", WORKER).json
        == {}
    )
    drain()
    assert click(client, clock, last_card(fake, HR_UID, "兑换申请"), "批准", HR_UID).json == {}
    drain()
    assert fake.texts_to(WORKER)[-1].startswith(
        "🎁 兑换已批准：定制保温杯 -100 分，当前余额 150 分。"
    )


def test_suggestion_reaches_the_supervisor_on_dingtalk(client, clock, session, fake, team, drain):
    say(client, clock, WORKER, "建议 冲床换模时用定位销")
    drain()
    card = last_card(fake, BOSS, "💡 改善建议")
    assert click(client, clock, card, "需讨论", BOSS).json == {}
    drain()
    assert fake.texts_to(WORKER)[-1] == "💬 你的建议 #1：王主管 认为需要讨论，会找你沟通。"
