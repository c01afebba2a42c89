"""The DingTalk renderer as pure functions: Card/Text → StandardCard cardData, template params."""

from __future__ import annotations

import json

from adapters.dingtalk.render import (
    VALUE_PARAM,
    is_static,
    read_action_value,
    render_standard_card,
    render_template_params,
    text_message,
    webhook_text,
)
from cards import Button, Card, Field, Text

SIGNED = "v1|approve|42||7|1767225600|AAAAAAAAAAAAAAAAAAAA"

APPROVAL = Card(
    title="待审核申领 #42",
    lines=("请审核：",),
    fields=(Field("申领人", "张三（一班）"), Field("积分", "+20 分")),
    buttons=(Button("通过", SIGNED, "primary"), Button("驳回", "v1|reject|x", "danger")),
    image="evidence:5",
    key="claim:42",
    note="7 天内有效",
)


def _types(data):
    return [c["type"] for c in data["contents"]]


def test_text_is_sample_text():
    assert text_message(Text("你好")) == ("sampleText", {"content": "你好"})
    assert webhook_text(Text("你好")) == {"msgtype": "text", "text": {"content": "你好"}}


def test_standard_card_has_header_image_fields_and_buttons():
    data = render_standard_card(APPROVAL, image_media_id="@lADmedia1")
    assert data["header"]["title"] == {"type": "text", "text": "待审核申领 #42"}
    assert data["config"]["enableForward"] is False
    assert _types(data) == ["image", "text", "divider", "text", "text", "action", "text"]
    assert data["contents"][0]["image"] == "@lADmedia1"
    assert [c["text"] for c in data["contents"] if c["type"] == "text"] == [
        "请审核：",
        "申领人：张三（一班）",
        "积分：+20 分",
        "7 天内有效",
    ]


def test_buttons_carry_the_signed_value_unchanged_in_params():
    actions = render_standard_card(APPROVAL)["contents"][-2]["actions"]
    assert [a["label"]["text"] for a in actions] == ["通过", "驳回"]
    assert [a["status"] for a in actions] == ["primary", "warning"]
    assert {a["actionType"] for a in actions} == {"request"}
    assert actions[0]["params"] == {VALUE_PARAM: SIGNED}
    assert len({a["id"] for a in actions}) == 2


def test_status_replaces_buttons():
    done = Card(title="待审核申领 #42", buttons=APPROVAL.buttons, status="已通过 · 王主管 · 10:00")
    data = render_standard_card(done)
    assert "action" not in _types(data)
    assert data["contents"][-1] == {
        "type": "text",
        "text": "已通过 · 王主管 · 10:00",
        "id": "status",
    }


def test_no_image_without_media_id():
    assert "image" not in _types(render_standard_card(APPROVAL, image_media_id=None))


def test_user_text_is_never_markdown():
    card = Card(
        title="t", lines=("**粗体** [链接](http://x)",), fields=(Field("备注", "<b>x</b>"),)
    )
    assert "markdown" not in _types(render_standard_card(card))


def test_card_data_is_json_serialisable_with_chinese():
    text = json.dumps(render_standard_card(APPROVAL), ensure_ascii=False)
    assert "待审核申领" in text and json.loads(text)["header"]["title"]["text"] == APPROVAL.title


def test_template_params_are_all_strings():
    params = render_template_params(APPROVAL, image_media_id="@lADmedia1")
    assert all(isinstance(v, str) for v in params.values())
    assert params["image"] == "@lADmedia1" and params["has_buttons"] == "true"
    assert json.loads(params["fields"])[0] == {"label": "申领人", "value": "张三（一班）"}
    assert json.loads(params["buttons"])[0] == {"text": "通过", "value": SIGNED, "color": "primary"}


def test_template_params_drop_buttons_once_decided():
    params = render_template_params(Card(title="t", buttons=APPROVAL.buttons, status="已驳回"))
    assert params["buttons"] == "[]" and params["has_buttons"] == "false"
    assert params["status"] == "已驳回"


def test_read_action_value_from_callback_content():
    content = json.dumps(
        {"cardPrivateData": {"actionIds": ["button_0"], "params": {"value": SIGNED}}}
    )
    assert read_action_value(content) == SIGNED
    assert read_action_value(json.loads(content)) == SIGNED


def test_read_action_value_rejects_junk():
    for junk in (None, "", "{", "[]", {"cardPrivateData": []}, {"cardPrivateData": {"params": {}}}):
        assert read_action_value(junk) is None
    assert read_action_value({"cardPrivateData": {"params": {"value": 7}}}) is None
    # Too deep for json.loads: a RecursionError, not a ValueError.
    assert read_action_value("[" * 50000) is None
    assert read_action_value('{"a":' * 50000) is None


def test_static_cards_are_those_without_buttons_key_or_image():
    assert is_static(Card(title="积分", fields=(Field("余额", "20 分"),)))
    assert not is_static(APPROVAL)
    assert not is_static(Card(title="t", key="k"))
