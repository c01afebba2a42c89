"""What HR's notices (通知) say: the shared read-confirmation card, replies and read status."""

from __future__ import annotations

from bot.asks.kinds import Choice
from cards import Card, Text

READ_KIND = "read_confirm"
READ_POLICY = "read_confirm"  # one reminder two working hours after sending (migration 0012)
READ_WORKING_MINUTES = 120
READ_LABEL = "已读"
IMPORTANT_TITLE = "📢 重要通知：{title}"
IMPORTANT_CHAT_TITLE = "📢 重要通知"
PLAIN_PREFIX = "📢 {title}\n{text}"
PLAIN_CHAT = "📢 通知\n{text}"
READ_NOTE = "请阅读后点「已读」确认。"
CHAT_IMPORTANT_TITLE = "重要通知"
CHAT_PLAIN_TITLE = "通知"
ONLY_HR = "只有 HR 或管理员可以发通知。"
USAGE = (
    "用法：通知 <内容>（普通通知）；通知 重要 <内容>（需确认已读）；通知 状态 [编号]（查看已读）"
)
NO_AUDIENCE = "没有可通知的同事。"
SENT = "📣 已发出通知 #{id}：{total} 人。"
IMPORTANT_SENT = "📣 已发出重要通知 #{id}：{total} 人需确认已读。发送「通知 状态 {id}」查看进度。"
NOT_FOUND = "没有找到通知 #{id}。"
NONE_YET = "还没有发过重要通知。"
STATUS_TITLE = "通知 #{id} 已读情况"
STATUS_LINE = "已读 {read} / {total} 人"
UNREAD_LINE = "未读：{names}"
UNREAD_MORE = "等 {count} 人"
NOT_ASKED = "这条通知不是发给你的。"
ALREADY_READ = "你已于 {time} 确认阅读。"


def read_choices() -> tuple[Choice]:
    """已读: the one answer a read confirmation takes."""
    return (Choice("read", READ_LABEL, "primary", outcome="已读"),)


def read_card(title: str, text: str) -> Card:
    """The notice everyone gets, the same for all (buttons are added by the asks engine)."""
    heading = (
        IMPORTANT_CHAT_TITLE
        if title == CHAT_IMPORTANT_TITLE
        else IMPORTANT_TITLE.format(title=title)
    )
    return Card(title=heading, lines=tuple(text.splitlines()), note=READ_NOTE)


def plain_notice(title: str, text: str) -> Text:
    """A notice that needs no confirmation: plain text, which every platform batch-sends."""
    if title == CHAT_PLAIN_TITLE:
        return Text(PLAIN_CHAT.format(text=text))
    return Text(PLAIN_PREFIX.format(title=title, text=text))


def status_card(broadcast_id: int, total: int, read: int, unread_names: list[str]) -> Card:
    """HR's view of who has confirmed."""
    shown = "、".join(unread_names[:20])
    if len(unread_names) > 20:
        shown += UNREAD_MORE.format(count=len(unread_names))
    lines = [STATUS_LINE.format(read=read, total=total)]
    if unread_names:
        lines.append(UNREAD_LINE.format(names=shown))
    return Card(title=STATUS_TITLE.format(id=broadcast_id), lines=tuple(lines))
