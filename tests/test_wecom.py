"""WeCom on the wire: encrypted callbacks in, the real wechatpy client out to a fake Open API.

What every platform must do (the claim flow, duplicates, wrong approver, card copies, strangers)
runs in tests/test_scenarios.py; this module keeps what only WeCom does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.models import Claim, ClaimState, Identity, InboundEvent, Outbox
from bot.notices.claims import REJECT_CANCELLED
from bot.services.ledger import balance
from tests.factories import make_employee, make_team, photo_bytes
from tests.fakes.server import Reply
from tests.fakes.wecom import AGENT_ID, CORP_ID, SECRET, FakeWecom, WecomCallbacks, env

BOSS, WORKER, COLLEAGUE = "wangzg", "zhangsan", "lisi"


@pytest.fixture
def fake() -> Iterator[FakeWecom]:
    """The fake WeCom Open API (fails the test on unknown paths)."""
    server = FakeWecom().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(fake: FakeWecom) -> dict[str, str]:
    """Turn the wecom adapter on, pointed at the fake."""
    return env(fake)


@pytest.fixture
def wecom(client: Any, clock: Any) -> WecomCallbacks:
    """Posts callbacks as WeCom does, timestamped by the test clock."""
    return WecomCallbacks(client, lambda: int(clock.now().timestamp()))


@pytest.fixture
def team(session: Any) -> tuple[Any, Any, Any]:
    """王主管 and two workers, each with a WeCom userid."""
    boss, (worker, colleague) = make_team(session)
    for who, uid in ((boss, BOSS), (worker, WORKER), (colleague, COLLEAGUE)):
        session.add(Identity(employee=who, platform="wecom", external_id=uid))
    session.commit()
    return boss, worker, colleague


def button_key(card: dict[str, Any], prefix: str) -> str:
    """The key (signed value) of the card's button whose text starts with `prefix`."""
    for b in card["button_list"]:
        if b["text"].startswith(prefix):
            return b["key"]
    raise AssertionError(f"no button {prefix!r}: {[b['text'] for b in card['button_list']]}")


def last_card(fake: FakeWecom, user: str, title: str) -> dict[str, Any]:
    """The newest template_card sent to `user` whose title starts with `title`."""
    for card in reversed(fake.cards(user)):
        if card["main_title"]["title"].startswith(title):
            return card
    raise AssertionError(f"no card {title!r} sent to {user}")


def claim_by_photo(fake, wecom, drain, session, seed=1, code="A01") -> Claim:
    """Worker sends a photo, taps a rule on the picker card; returns the new claim."""
    media_id = f"MEDIA_{seed}"
    fake.media[media_id] = photo_bytes(seed)
    assert wecom.image(WORKER, media_id).status_code == 200
    drain()
    pick = last_card(fake, WORKER, "选择申领规则")
    assert (
        wecom.click(WORKER, pick["task_id"], button_key(pick, code), "rc-pick").status_code == 200
    )
    drain()
    return session.scalars(select(Claim).order_by(Claim.id.desc())).first()


# -- callback security ---------------------------------------------------------------------------


def test_url_verification_echoes_plaintext(wecom):
    resp = wecom.verify_url("1616140317555161061")
    assert resp.status_code == 200
    assert resp.data == b"1616140317555161061"
    assert resp.mimetype == "text/plain"


def test_url_verification_with_bad_signature_is_403(wecom):
    assert wecom.verify_url("123", signature="0" * 40).status_code == 403


def test_message_with_bad_signature_is_403_and_records_nothing(wecom, session, team):
    resp = wecom.text(WORKER, "积分", signature="f" * 40)
    assert resp.status_code == 403 and resp.data == b""
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


def test_stale_timestamp_is_403(wecom, clock, team):
    old = int(clock.now().timestamp()) - 301
    assert wecom.text(WORKER, "积分", timestamp=old).status_code == 403
    assert wecom.verify_url("123", timestamp=old).status_code == 403


def test_message_for_another_corp_is_403(wecom, team):
    assert wecom.text(WORKER, "积分", corp_id="wwsomeoneelse").status_code == 403


# Envelopes around a correctly encrypted and signed message that a plain XML parser accepts
# (expat expands internal entities and never fetches an external DTD): only refusing DTDs
# turns them into a 400.
OUTER_WITH_DTD = {
    "entity": '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "{encrypt}">]>'
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><AgentID>{agent}</AgentID>"
    "<Encrypt>&e;</Encrypt></xml>",
    "internal-subset": '<!DOCTYPE xml [<!ENTITY c "{corp}">]>'
    "<xml><ToUserName>&c;</ToUserName><AgentID>{agent}</AgentID>"
    "<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>",
    "external-doctype": '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">'
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><AgentID>{agent}</AgentID>"
    "<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>",
}


@pytest.mark.parametrize("shape", sorted(OUTER_WITH_DTD))
def test_doctype_or_entity_in_the_envelope_is_400(wecom, session, team, shape):
    encrypt = wecom.encrypt(wecom.text_xml(WORKER, "积分"))
    body = OUTER_WITH_DTD[shape].format(encrypt=encrypt, corp=CORP_ID, agent=AGENT_ID)
    assert wecom.post_raw(body.encode(), encrypt).status_code == 400
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


def test_truncated_body_is_400(wecom, session, team):
    plain = "<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[QUJDRA=="
    assert wecom.post_raw(plain.encode(), "QUJDRA==").status_code == 400
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


def test_ciphertext_that_does_not_decrypt_is_400(wecom, team):
    good = wecom.encrypt("<xml><MsgType>text</MsgType></xml>")
    cut = good[:40]  # valid base64, signed, but not a whole AES block
    body = f"<xml><Encrypt><![CDATA[{cut}]]></Encrypt></xml>".encode()
    assert wecom.post_raw(body, cut).status_code == 400


@pytest.mark.parametrize(
    "inner",
    [
        '<!DOCTYPE xml [<!ENTITY a "积分">]><xml><ToUserName>c</ToUserName>'
        "<FromUserName>zhangsan</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>&a;</Content><MsgId>1</MsgId></xml>",
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><ToUserName>c</ToUserName>'
        "<FromUserName>zhangsan</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>积分</Content><MsgId>2</MsgId></xml>",
    ],
    ids=["entity", "external-doctype"],
)
def test_doctype_or_entity_inside_the_encrypted_xml_is_400(wecom, session, team, inner):
    assert wecom.post_xml(inner).status_code == 400
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


def test_oversize_body_is_413(wecom):
    body = b"<xml><Encrypt>" + b"A" * (1024 * 1024 + 10) + b"</Encrypt></xml>"
    assert wecom.post_raw(body, "A").status_code == 413


def test_unknown_event_is_200_and_ignored(wecom, session, team):
    resp = wecom.event(WORKER, "subscribe")
    assert resp.status_code == 200 and resp.data == b""
    assert session.scalar(select(func.count(InboundEvent.id))) == 0


# -- messages out ------------------------------------------------------------------------------


def test_points_text_is_answered_through_message_send(wecom, fake, drain, team):
    assert wecom.text(WORKER, "积分").status_code == 200
    drain()
    [sent] = fake.sent(WORKER)
    assert sent["agentid"] == 1000002 and sent["msgtype"] == "markdown"
    assert "的积分" in sent["markdown"]["content"] and "余额：0 分" in sent["markdown"]["content"]
    assert len(fake.calls("gettoken")) == 1


def test_opening_the_app_shows_help_once_a_day(wecom, fake, drain, clock, team):
    wecom.event(WORKER, "enter_agent")
    clock.advance(minutes=30)
    wecom.event(WORKER, "enter_agent")
    drain()
    [help_card] = fake.sent(WORKER)
    assert help_card["markdown"]["content"].startswith("**绩效积分机器人 · 帮助**")
    clock.advance(days=1)
    wecom.event(WORKER, "enter_agent")
    drain()
    assert len(fake.sent(WORKER)) == 2


def test_send_failing_with_500_is_delivered_once_after_backoff(wecom, fake, drain, clock, team):
    fake.fail_next("message/send", Reply(500, {"error": "boom"}))
    wecom.text(WORKER, "积分")
    drain()
    assert fake.sent(WORKER) == []
    clock.advance(minutes=5)
    drain()
    drain()
    assert len(fake.sent(WORKER)) == 1
    assert len(fake.calls("message/send")) == 2


def test_busy_errcode_is_retried(wecom, fake, drain, clock, session, team):
    fake.fail_next("message/send", Reply(200, {"errcode": -1, "errmsg": "system busy"}))
    wecom.text(WORKER, "积分")
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending" and "errcode -1" in row.last_error
    clock.advance(minutes=5)
    drain()
    assert len(fake.sent(WORKER)) == 1


def test_permanent_errcode_is_not_retried(wecom, fake, drain, session, team):
    fake.fail_next("message/send", Reply(200, {"errcode": 40003, "errmsg": "invalid userid"}))
    wecom.text(WORKER, "积分")
    drain()
    assert session.scalars(select(Outbox)).one().state == "dead"


def test_expired_token_is_refetched_once_mid_flight(wecom, fake, drain, team):
    wecom.text(WORKER, "积分")
    drain()
    fake.expire_tokens()  # WeCom answers 42001 to the cached token
    wecom.text(WORKER, "积分")
    drain()
    assert len(fake.sent(WORKER)) == 2
    assert len(fake.calls("gettoken")) == 2


def test_token_rejected_twice_is_retried_later(wecom, fake, drain, clock, session, team):
    expired = Reply(200, {"errcode": 42001, "errmsg": "access_token expired"})
    fake.fail_next("message/send", expired, times=2)
    wecom.text(WORKER, "积分")
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending" and "42001" in row.last_error
    assert len(fake.calls("gettoken")) == 2  # one refetch per attempt, not a loop
    clock.advance(minutes=5)
    drain()
    assert len(fake.sent(WORKER)) == 1


def test_http_429_waits_as_told(wecom, fake, drain, clock, session, team):
    fake.fail_next("message/send", Reply(429, {}, headers={"Retry-After": "120"}))
    wecom.text(WORKER, "积分")
    drain()
    row = session.scalars(select(Outbox)).one()
    assert row.state == "pending"
    assert row.next_attempt_at - clock.now() == timedelta(seconds=120)


def test_approval_card_whose_answer_is_lost_reaches_the_supervisor_once(
    wecom, fake, drain, clock, session, team
):
    _, worker, _ = team

    def card_to_boss(rec: Any) -> bool:
        body = rec.json()
        return body["touser"] == BOSS and body["msgtype"] == "template_card"

    fake.server.lose_answers("POST", "/cgi-bin/message/send", when=card_to_boss)
    claim = claim_by_photo(fake, wecom, drain, session)
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == team[0].id)).one()
    assert row.state == "pending" and "ConnectionError" in row.last_error
    clock.advance(minutes=5)
    drain()
    session.refresh(row)
    assert row.state == "sent" and row.attempts == 2
    # The retry skips the photo already delivered; WeCom's duplicate check drops the card copy.
    to_boss = [r.json() for r in fake.calls("message/send") if r.json()["touser"] == BOSS]
    assert [m["msgtype"] for m in to_boss] == ["image", "template_card", "template_card"]
    assert [m["msgtype"] for m in fake.sent(BOSS)] == ["image", "template_card"]
    card = last_card(fake, BOSS, "待审核申领")
    wecom.click(BOSS, card["task_id"], button_key(card, "通过"), "rc-approve")
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.APPROVED and balance(session, worker.id) == 20
    assert fake.updates()[-1]["response_code"] == "rc-approve"


# -- the claim loop on the wire (the flow itself runs in tests/test_scenarios.py) ----------------


def test_approval_card_is_a_template_card_after_its_photo(wecom, fake, drain, session, team):
    claim = claim_by_photo(fake, wecom, drain, session)
    assert fake.calls("media/get")[0].query["media_id"] == ["MEDIA_1"]
    # The supervisor gets the photo (uploaded once, as multipart JPEG) right before the card.
    boss_msgs = fake.sent(BOSS)
    assert [m["msgtype"] for m in boss_msgs] == ["image", "template_card"]
    upload = fake.uploads[boss_msgs[0]["image"]["media_id"]]
    assert b'name="media"' in upload and b"\xff\xd8\xff" in upload
    assert fake.calls("media/upload")[0].query["type"] == ["image"]
    assert boss_msgs[1]["enable_duplicate_check"] == 1
    card = boss_msgs[1]["template_card"]
    assert card["card_type"] == "button_interaction"
    assert card["main_title"]["title"] == f"待审核申领 #{claim.id}"
    assert {r["keyname"] for r in card["horizontal_content_list"]} >= {"申领人", "规则", "积分"}
    assert [b["text"] for b in card["button_list"]] == ["通过", "驳回"]


def test_each_card_update_spends_the_response_code_of_its_click(wecom, fake, drain, session, team):
    claim_by_photo(fake, wecom, drain, session)
    # The rule card was closed with the code of the click that picked the rule.
    pick_update = fake.updates()[0]
    assert pick_update["response_code"] == "rc-pick" and pick_update["userids"] == [WORKER]
    assert pick_update["template_card"]["replace_text"].startswith("已提交")
    assert "已提交：A01 发现模具磨损隐患并报修" in pick_update["template_card"]["sub_title_text"]
    card = last_card(fake, BOSS, "待审核申领")
    wecom.click(BOSS, card["task_id"], button_key(card, "通过"), "rc-approve")
    drain()
    update = fake.updates()[-1]
    assert update["response_code"] == "rc-approve" and update["userids"] == [BOSS]
    assert update["agentid"] == 1000002
    done = update["template_card"]
    assert done["task_id"] == card["task_id"] and done["replace_text"] == "已通过"
    assert "已通过 · 王主管 · 10:00" in done["sub_title_text"]


def test_reject_closes_each_card_with_its_own_click_code(wecom, fake, drain, session, team):
    claim_by_photo(fake, wecom, drain, session)
    card = last_card(fake, BOSS, "待审核申领")
    wecom.click(BOSS, card["task_id"], button_key(card, "驳回"), "rc-reject")
    drain()
    reason = last_card(fake, BOSS, "驳回申领")
    wecom.click(BOSS, reason["task_id"], button_key(reason, "照片不清晰"), "rc-reason")
    drain()
    by_code = {u["response_code"]: u["template_card"] for u in fake.updates()}
    assert by_code["rc-reject"]["task_id"] == card["task_id"]  # the approval card, via 驳回
    assert by_code["rc-reject"]["replace_text"] == "已驳回"
    assert "原因：照片不清晰" in by_code["rc-reject"]["sub_title_text"]
    assert by_code["rc-reason"]["task_id"] == reason["task_id"]


def test_each_copy_is_updated_with_its_own_response_code(wecom, fake, drain, session, team):
    boss, worker, _ = team
    deputy = make_employee(session, name="副主管", role="supervisor", department=boss.department)
    boss.delegate = deputy
    session.add(Identity(employee=deputy, platform="wecom", external_id="deputy"))
    session.commit()
    claim_by_photo(fake, wecom, drain, session)
    card = last_card(fake, BOSS, "待审核申领")
    assert last_card(fake, "deputy", "待审核申领")["task_id"] != card["task_id"]
    wecom.click(BOSS, card["task_id"], button_key(card, "通过"), "rc-approve")
    drain()
    updates = {u["userids"][0]: u for u in fake.updates()}
    assert updates[BOSS]["response_code"] == "rc-approve"  # the click's code, newest
    assert updates["deputy"]["response_code"].startswith("rc-send-")  # the send's code
    assert updates["deputy"]["template_card"]["replace_text"] == "已通过"
    assert balance(session, worker.id) == 20


def test_image_download_failure_is_retried_not_lost(wecom, fake, drain, clock, session, team):
    fake.media["MEDIA_X"] = photo_bytes(5)
    fake.fail_next("media/get", Reply(502, {"error": "bad gateway"}))
    wecom.image(WORKER, "MEDIA_X")
    drain()
    clock.advance(minutes=1)  # past the worker's retry backoff, if any
    drain()
    assert last_card(fake, WORKER, "选择申领规则")
    assert len(fake.calls("media/get")) == 2


def test_pressing_reject_again_after_cancelling_asks_for_the_reason_again(
    wecom, fake, drain, clock, session, team
):
    claim = claim_by_photo(fake, wecom, drain, session)
    card = last_card(fake, BOSS, "待审核申领")
    reject = button_key(card, "驳回")
    wecom.click(BOSS, card["task_id"], reject, "rc-reject-1")
    drain()
    first = last_card(fake, BOSS, "驳回申领")
    wecom.click(BOSS, first["task_id"], button_key(first, "取消"), "rc-cancel")
    drain()
    assert fake.texts(BOSS)[-1] == REJECT_CANCELLED.format(claim_id=claim.id)
    # Same card, same button, same user; a new CreateTime and ResponseCode: a new click.
    clock.advance(minutes=2)
    wecom.click(BOSS, card["task_id"], reject, "rc-reject-2")
    drain()
    reasons = [c for c in fake.cards(BOSS) if c["main_title"]["title"].startswith("驳回申领")]
    assert len(reasons) == 2
    wecom.click(BOSS, reasons[1]["task_id"], button_key(reasons[1], "照片不清晰"), "rc-reason")
    drain()
    session.refresh(claim)
    assert claim.state == ClaimState.REJECTED and claim.reason == "照片不清晰"
    closed = [u for u in fake.updates() if u["template_card"]["task_id"] == card["task_id"]]
    assert [u["response_code"] for u in closed] == ["rc-reject-2"]  # the newest click's code


def test_pending_command_shows_the_photo_again_with_the_card(
    wecom, fake, drain, clock, session, team
):
    claim_by_photo(fake, wecom, drain, session)
    clock.advance(minutes=10)  # well inside WeCom's 30-minute duplicate-check window
    wecom.text(BOSS, "待审")
    drain()
    sent = fake.sent(BOSS)
    assert [m["msgtype"] for m in sent] == [
        "image",
        "template_card",
        "markdown",
        "image",
        "template_card",
    ]
    assert sent[3]["image"] == sent[0]["image"]  # the same upload, delivered again
    assert len(fake.calls("media/upload")) == 1


def test_photo_whose_answer_is_lost_goes_out_again_before_the_card(
    wecom, fake, drain, clock, session, team
):
    def photo_to_boss(rec: Any) -> bool:
        body = rec.json()
        return body["touser"] == BOSS and body["msgtype"] == "image"

    fake.server.lose_answers("POST", "/cgi-bin/message/send", when=photo_to_boss)
    claim_by_photo(fake, wecom, drain, session)
    assert [m["msgtype"] for m in fake.sent(BOSS)] == ["image"]
    clock.advance(minutes=5)
    drain()
    # Undetectable from here: the photo is shown twice rather than risk not at all.
    assert [m["msgtype"] for m in fake.sent(BOSS)] == ["image", "image", "template_card"]


def test_evidence_refused_by_upload_still_sends_the_card(wecom, fake, drain, session, team, caplog):
    fake.fail_next("media/upload", Reply(200, {"errcode": 40005, "errmsg": "invalid file type"}))
    with caplog.at_level(logging.WARNING, logger="adapters.wecom"):
        claim = claim_by_photo(fake, wecom, drain, session)
    assert len(fake.calls("media/upload")) == 1
    assert [m["msgtype"] for m in fake.sent(BOSS)] == ["template_card"]
    assert last_card(fake, BOSS, "待审核申领")["main_title"]["title"].endswith(f"#{claim.id}")
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == team[0].id)).one()
    assert row.state == "sent"
    [warning] = [r.getMessage() for r in caplog.records if "40005" in r.getMessage()]
    assert "card sent without it" in warning
    assert SECRET not in warning and "tok-" not in warning


def test_photo_refused_on_send_still_sends_the_card_and_uploads_afresh(
    wecom, fake, drain, session, team
):
    send = fake.server.routes[("POST", "/cgi-bin/message/send")]

    def media_expired_once(rec: Any) -> Reply:
        body = rec.json()
        if body["touser"] == BOSS and body["msgtype"] == "image":
            fake.server.route("POST", "/cgi-bin/message/send", send)
            return Reply(200, {"errcode": 40007, "errmsg": "invalid media_id"})
        return send(rec)

    fake.server.route("POST", "/cgi-bin/message/send", media_expired_once)
    claim_by_photo(fake, wecom, drain, session)
    assert [m["msgtype"] for m in fake.sent(BOSS)] == ["template_card"]
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == team[0].id)).one()
    assert row.state == "sent"
    # The refused media_id is forgotten: the next card showing the photo uploads it again.
    wecom.text(BOSS, "待审")
    drain()
    assert len(fake.calls("media/upload")) == 2
    assert [m["msgtype"] for m in fake.sent(BOSS)][-2:] == ["image", "template_card"]


def test_busy_evidence_upload_retries_the_card_with_its_photo(
    wecom, fake, drain, clock, session, team
):
    fake.fail_next("media/upload", Reply(200, {"errcode": -1, "errmsg": "system busy"}))
    claim_by_photo(fake, wecom, drain, session)
    row = session.scalars(select(Outbox).where(Outbox.recipient_id == team[0].id)).one()
    assert row.state == "pending" and "errcode -1" in row.last_error
    assert fake.sent(BOSS) == []
    clock.advance(minutes=5)
    drain()
    assert [m["msgtype"] for m in fake.sent(BOSS)] == ["image", "template_card"]


def test_click_during_a_failed_card_update_keeps_the_newer_code(
    wecom, fake, drain, clock, session, team
):
    claim_by_photo(fake, wecom, drain, session)
    card = last_card(fake, BOSS, "待审核申领")
    approve = button_key(card, "通过")
    created = int(clock.now().timestamp())

    def click_again(rec: Any) -> None:
        # The boss taps again while the update carrying the first click's code is in flight.
        resp = wecom.click(BOSS, card["task_id"], approve, "rc-approve-2", created=created + 3)
        assert resp.status_code == 200

    fake.on_next_call("message/update_template_card", click_again)
    fake.fail_next(
        "message/update_template_card", Reply(200, {"errcode": -1, "errmsg": "system busy"})
    )
    wecom.click(BOSS, card["task_id"], approve, "rc-approve", created=created)
    drain()
    assert fake.updates()[-1]["template_card"]["task_id"] != card["task_id"]  # not yet
    clock.advance(minutes=5)
    drain()
    closed = [u for u in fake.updates() if u["template_card"]["task_id"] == card["task_id"]]
    assert [u["response_code"] for u in closed] == ["rc-approve-2"]


# -- the points economy (design §15) ---------------------------------------------------------------

HR_UID = "zhoumin"


def _hr_and_reward(session, worker):
    from bot.models import Reward, Role
    from tests.factories import make_employee

    hr = make_employee(session, name="周敏", role=Role.HR)
    session.add(Identity(employee=hr, platform="wecom", external_id=HR_UID))
    session.add(Reward(code="R01", title="定制保温杯", kind="goods", cost=100, stock=3))
    session.commit()
    return hr


def test_redeem_tap_and_hr_approval_on_wecom(wecom, fake, drain, session, team, clock):
    from bot.notices import rewards as reward_texts
    from bot.services.ledger import append_entry

    _boss, worker, _ = team
    _hr_and_reward(session, worker)
    append_entry(session, worker, 250, kind="adjust", memo="t", now=clock.now())
    session.commit()
    wecom.text(WORKER, "兑换")
    drain()
    offer = last_card(fake, WORKER, reward_texts.LIST_TITLE)
    wecom.click(WORKER, offer["task_id"], button_key(offer, "R01"), "rc-redeem")
    drain()
    ask = last_card(fake, HR_UID, "兑换申请")
    assert [b["text"] for b in ask["button_list"]] == ["批准", "拒绝"]
    wecom.click(HR_UID, ask["task_id"], button_key(ask, "批准"), "rc-hr")
    drain()
    assert fake.texts(WORKER)[-1].startswith("🎁 兑换已批准：定制保温杯 -100 分，当前余额 150 分。")


def test_suggestion_reaches_the_supervisor_on_wecom(wecom, fake, drain, session, team):
    from bot.notices import suggestions as texts

    _boss, _worker, _ = team
    wecom.text(WORKER, "建议 冲床换模时用定位销")
    drain()
    card = last_card(fake, BOSS, "💡 改善建议")
    assert [b["text"] for b in card["button_list"]] == ["采纳", "需讨论", "不采纳"]
    wecom.click(BOSS, card["task_id"], button_key(card, "采纳"), "rc-adopt")
    drain()
    assert fake.texts(WORKER)[-1].startswith("👍 你的建议 #1 已被 王主管 采纳")
    assert last_card(fake, BOSS, texts.IMPLEMENT_CARD_TITLE.format(id=1)[:6])


def test_skills_radar_is_sent_as_an_image_on_wecom(wecom, fake, drain, session, team, clock):
    from bot.services.ledger import append_entry

    _boss, worker, _ = team
    append_entry(session, worker, 30, kind="claim", memo="t", now=clock.now(), category="设备")
    session.commit()
    wecom.text(WORKER, "能力")
    drain()
    kinds = [m["msgtype"] for m in fake.sent(WORKER)]
    assert "image" in kinds and fake.uploads
