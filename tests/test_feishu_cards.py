"""The Feishu renderer as a pure function: neutral Card/Text → message content (card JSON 2.0)."""

from __future__ import annotations

import json

import pytest

from adapters.feishu.render import button_values, escape_md, header_template, render, render_card
from cards import Button, Card, Field, Text

APPROVE = "v1|approve|42||7|1767225600|abcdefghijklmnopqrst"
REJECT = "v1|reject|42||7|1767225600|tsrqponmlkjihgfedcba"


def approval(**overrides) -> Card:
    values = {
        "title": "待审核申领 #42",
        "fields": (Field("申领人", "张三（冲压车间）"), Field("积分", "+20 分")),
        "buttons": (Button("通过", APPROVE, "primary"), Button("驳回", REJECT, "danger")),
        "image": "evidence:5",
        "key": "claim:42",
    }
    values.update(overrides)
    return Card(**values)


def tags(card_json: dict) -> list[str]:
    return [element["tag"] for element in card_json["body"]["elements"]]


def test_text_renders_as_text_content():
    assert render(Text("你好\n第二行")) == ("text", {"text": "你好\n第二行"})


def test_card_is_schema_2_with_header_and_body():
    msg_type, content = render(approval(image=None))
    assert msg_type == "interactive"
    assert content["schema"] == "2.0"
    assert content["header"] == {
        "title": {"tag": "plain_text", "content": "待审核申领 #42"},
        "template": "blue",
    }
    assert content["config"] == {"update_multi": True}
    assert tags(content) == ["markdown", "column_set"]


def test_buttons_carry_signed_values_as_callbacks_unchanged():
    content = render_card(approval())
    buttons = [c["elements"][0] for c in content["body"]["elements"][-1]["columns"]]
    assert buttons[0] == {
        "tag": "button",
        "text": {"tag": "plain_text", "content": "通过"},
        "type": "primary",
        "width": "default",
        "behaviors": [{"type": "callback", "value": {"v": APPROVE}}],
    }
    assert buttons[1]["type"] == "danger"
    assert button_values(content) == {"通过": APPROVE, "驳回": REJECT}


def test_unknown_button_style_falls_back_to_default():
    content = render_card(Card(title="t", buttons=(Button("好", "v", "fancy"),)))
    assert content["body"]["elements"][0]["columns"][0]["elements"][0]["type"] == "default"


def test_image_key_becomes_first_img_element():
    content = render_card(approval(), image_key="img_v2_abc")
    assert content["body"]["elements"][0] == {
        "tag": "img",
        "img_key": "img_v2_abc",
        "alt": {"tag": "plain_text", "content": "证据照片"},
        "scale_type": "fit_horizontal",
    }


def test_card_without_uploaded_image_has_no_img_element():
    assert "img" not in tags(render_card(approval()))


def test_fields_are_one_markdown_block_with_bold_labels():
    content = render_card(approval(image=None, buttons=()))
    assert content["body"]["elements"] == [
        {"tag": "markdown", "content": "**申领人**：张三（冲压车间）\n**积分**：+20 分"}
    ]


def test_status_replaces_buttons_with_a_markdown_line():
    card = approval(status="已通过 · 王主管 · 10:00")
    content = render_card(card, image_key="img_1")
    assert tags(content) == ["img", "markdown", "markdown"]
    assert content["body"]["elements"][-1] == {
        "tag": "markdown",
        "content": "已通过 · 王主管 · 10:00",
    }
    assert button_values(content) == {}
    assert content["header"]["template"] == "green"


@pytest.mark.parametrize(
    ("status", "template"),
    [(None, "blue"), ("已通过 · 王主管", "green"), ("已驳回 · 王主管", "red"), ("已撤回", "grey")],
    ids=["pending", "approved", "rejected", "other"],
)
def test_header_colour_follows_status(status, template):
    assert header_template(Card(title="t", status=status)) == template


def test_lines_and_note_render_in_order_note_small():
    card = Card(title="帮助", lines=("第一行", "第二行"), note="小字提示")
    elements = render_card(card)["body"]["elements"]
    assert [e["content"] for e in elements] == ["第一行", "第二行", "小字提示"]
    assert elements[-1]["text_size"] == "notation"


def test_user_text_cannot_inject_markdown_or_mentions():
    card = Card(
        title="待审核申领 #1",
        fields=(Field("备注", "<at id=all></at> **加粗** [链接](http://x)"),),
        status="已驳回 · 王主管 · 10:00\n原因：_斜体_ ~删~ `代码`",
    )
    elements = render_card(card)["body"]["elements"]
    text = elements[0]["content"] + elements[1]["content"]
    for raw in ("<at", "**加粗", "[链接]", "_斜体_", "~删~", "`代码`"):
        assert raw not in text
    assert "&#60;at id=all&#62;" in elements[0]["content"]
    assert elements[0]["content"].startswith("**备注**：")


def test_escape_leaves_chinese_and_plain_punctuation_alone():
    assert escape_md("申领 #42（+20 分）· 10:00") == "申领 #42（+20 分）· 10:00"


def test_rendered_card_is_json_serialisable_and_small():
    card = approval(lines=tuple(f"行 {i}" for i in range(20)))
    encoded = json.dumps(render_card(card, image_key="img_1"), ensure_ascii=False)
    assert len(encoded.encode()) < 30 * 1024  # Feishu's card size limit
