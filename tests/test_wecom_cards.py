"""The WeCom renderer as a pure function: neutral Card/Text → app message JSON."""

from __future__ import annotations

import pytest

from adapters.wecom.render import (
    BODY_MAX_BYTES,
    DONE_KEY,
    render_message,
    render_template_card,
    status_label,
    task_id_for,
)
from cards import Button, Card, Field, Text

APPROVAL = Card(
    title="待审核申领 #42",
    fields=(
        Field("申领人", "张三（冲压车间）"),
        Field("规则", "A01 发现模具磨损隐患并报修"),
        Field("积分", "+20 分"),
        Field("时间", "11-26 10:00"),
    ),
    buttons=(
        Button("通过", "v1|approve|42||7|1767225600|mac1", "primary"),
        Button("驳回", "v1|reject|42||7|1767225600|mac2", "danger"),
    ),
    image="evidence:9",
    key="claim:42",
)


def test_text_is_a_text_message():
    assert render_message(Text("你好"), task_id="t") == {
        "msgtype": "text",
        "text": {"content": "你好"},
    }


def test_long_text_is_cut_to_2048_bytes():
    body = render_message(Text("积" * 1000), task_id="t")
    content = body["text"]["content"]
    assert len(content.encode()) <= BODY_MAX_BYTES and content.endswith("…")


def test_card_with_buttons_is_a_button_interaction_template_card():
    body = render_message(APPROVAL, task_id="pb-ob7")
    assert body["msgtype"] == "template_card"
    assert (body["enable_duplicate_check"], body["duplicate_check_interval"]) == (1, 1800)
    card = body["template_card"]
    assert card["card_type"] == "button_interaction" and card["task_id"] == "pb-ob7"
    assert card["main_title"] == {"title": "待审核申领 #42"}
    assert card["horizontal_content_list"][0] == {"keyname": "申领人", "value": "张三（冲压车间）"}
    assert card["button_list"] == [
        {"text": "通过", "style": 1, "key": "v1|approve|42||7|1767225600|mac1"},
        {"text": "驳回", "style": 3, "key": "v1|reject|42||7|1767225600|mac2"},
    ]
    assert "replace_text" not in card


def test_button_values_pass_through_unchanged():
    value = "v1|claim|5|12|3|1767225600|" + "x" * 20
    card = render_template_card(Card(title="t", buttons=(Button("A01", value),)), "tid")
    assert card["button_list"][0]["key"] == value


def test_at_most_six_buttons_and_six_rows():
    buttons = tuple(Button(f"B{i}", f"v{i}") for i in range(9))
    fields = tuple(Field(f"f{i}", "x") for i in range(9))
    card = render_template_card(Card(title="t", buttons=buttons, fields=fields), "tid")
    assert len(card["button_list"]) == 6 and len(card["horizontal_content_list"]) == 6


def test_long_rule_labels_are_spelled_out_above_short_buttons():
    picker = Card(
        title="选择申领规则",
        lines=("照片已收到，请选择对应的行为：",),
        buttons=(Button("A01 发现模具磨损隐患并报修 +20", "v1"), Button("B02 其他", "v2")),
        note="没有合适的？回复「申领 编号 备注」",
    )
    card = render_template_card(picker, "tid")
    assert card["button_list"][0]["text"] == "A01 发现模具磨…"
    assert card["horizontal_content_list"] == [
        {"keyname": "A01", "value": "发现模具磨损隐患并报修 +20"}
    ]
    assert card["sub_title_text"] == "照片已收到，请选择对应的行为："
    assert card["quote_area"] == {"type": 0, "quote_text": "没有合适的？回复「申领 编号 备注」"}


def test_limits_on_title_keyname_and_value():
    card = render_template_card(
        Card(
            title="标" * 50,
            fields=(Field("很长的字段名称", "值" * 40),),
            buttons=(Button("x", "v"),),
        ),
        "tid",
    )
    assert len(card["main_title"]["title"]) == 36
    row = card["horizontal_content_list"][0]
    assert len(row["keyname"]) == 5 and len(row["value"]) == 26


def test_decided_card_shows_status_and_a_greyed_out_button():
    decided = Card(
        title=APPROVAL.title,
        fields=APPROVAL.fields,
        status="已驳回 · 王主管 · 10:05\n原因：照片不清晰",
        key=APPROVAL.key,
    )
    card = render_template_card(decided, "pb-ob7")
    assert card["task_id"] == "pb-ob7"
    assert card["sub_title_text"] == "已驳回 · 王主管 · 10:05\n原因：照片不清晰"
    assert card["button_list"] == [{"text": "已驳回", "style": 2, "key": DONE_KEY}]
    assert card["replace_text"] == "已驳回"
    assert len(card["horizontal_content_list"]) == 4


@pytest.mark.parametrize(
    ("status", "label"),
    [("已通过 · 王主管 · 10:00", "已通过"), ("已取消", "已取消"), ("", "已处理")],
    ids=["with-who", "plain", "empty"],
)
def test_status_label(status, label):
    assert status_label(status) == label


def test_card_without_buttons_is_markdown():
    summary = Card(
        title="张三 的积分",
        fields=(Field("余额", "20 分"),),
        lines=("最近记录：",),
        note="发送「帮助」",
    )
    body = render_message(summary, task_id="t")
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**张三 的积分**\n最近记录：\n余额：20 分")
    assert "发送「帮助」" in content


def test_decided_card_sent_fresh_is_markdown_with_status():
    body = render_message(Card(title="t", status="已通过 · 王主管 · 10:00"), task_id="x")
    assert (
        body["msgtype"] == "markdown" and "已通过 · 王主管 · 10:00" in body["markdown"]["content"]
    )


@pytest.mark.parametrize(
    ("key", "task_id"),
    [("ob12", "pb-ob12"), ("ob:12/x y", "pb-ob_12_x_y"), ("o" * 200, ("pb-" + "o" * 200)[:128])],
    ids=["plain", "bad-chars", "too-long"],
)
def test_task_id_is_stable_and_within_the_allowed_alphabet(key, task_id):
    assert task_id_for(key) == task_id
