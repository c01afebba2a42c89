"""What weekly check-ins (签到) and likes (点赞) say (design §14)."""

from __future__ import annotations

from bot.asks.kinds import Choice
from cards import Card

# -- likes -------------------------------------------------------------------------------------
LIKE_USAGE = "用法：点赞 <姓名或工号> [理由]，如「点赞 张伟 帮忙调好了3号模具」"
LIKE_SELF = "不能给自己点赞哦，去夸夸身边的同事吧。"
LIKE_UNKNOWN = "没有找到「{who}」，请检查姓名或工号。"
LIKE_AMBIGUOUS = "有 {count} 位同事叫「{who}」，请用工号点赞：{options}"
LIKE_TWICE_TODAY = "今天已经给 {name} 点过赞了，明天再来吧。"
LIKE_SENT = "👍 已为 {name} 点赞。"
LIKE_TEAM_PROGRESS = "本周已点赞团队成员 {count}/{minimum} 人。"
LIKE_RECEIVED = "👍 {giver} 给你点了赞：{reason}"
LIKE_RECEIVED_PLAIN = "👍 {giver} 给你点了赞，继续加油！"
LIKES_REMINDER = (
    "📌 本周你已点赞团队成员 {count} 人，每周至少 {minimum} 人。"
    "发送「点赞 姓名 理由」夸夸做得好的同事。"
)
LIKES_SUMMARY_TITLE = "本周主管点赞 · {week}"
LIKES_SUMMARY_LINE = "{name}：{count} 人{flag}"
LIKES_SUMMARY_LOW = " ⚠️ 未达 {minimum} 人"
LIKES_SUMMARY_NOTE = "每位主管每周至少点赞 {minimum} 名团队成员。"
LIKES_SUMMARY_EMPTY = "还没有带团队的主管。"

# -- check-ins ---------------------------------------------------------------------------------
CHECKIN_KIND = "weekly_checkin"
CHECKIN_TITLE = "本周签到 · {week}"
CHECKIN_INTRO = "本周完成 {count} 项，确认无误请签到："
CHECKIN_NONE = "本周还没有记录到完成事项，也可以直接签到。"
CHECKIN_PHOTO_HINT = "签到后 10 分钟内发一张照片，会附到本周签到。"
CONFIRM_LABEL = "确认签到"
CHECKED_IN = "✅ 已签到（{week}），连续 {streak} 周。"
STREAK_TO_GO = "再连续签到 {left} 周可得半天调休。"
VOUCHER_GRANTED = "🎉 连续签到 {streak} 周，获得「{reward}」一张，已记入你的兑换记录。"
VOUCHER_NO_REWARD = "🎉 连续签到 {streak} 周！半天调休奖励尚未设置，请联系 HR 领取。"
ALREADY_CHECKED_IN = "本周签到已完成（{time}），无需重复签到。"
NOT_YOUR_CHECKIN = "这是别人的签到卡片，无法操作。"
CHECKIN_EXPIRED = "已过期"
PHOTO_ATTACHED = "📷 照片已附到本周签到（{week}）。"
ITEM_CLAIM = "✔ {code} {title} +{points}"
ITEM_RETEST = "✔ 重测：{title}"
ITEM_TASK = "✔ 任务：{title}"
VOUCHER_NOTE = "连续签到 {streak} 周奖励"
VOUCHER_LINE = "🎫 半天调休券：{count} 张"


def checkin_choices() -> tuple[Choice]:
    """确认签到: the one answer a check-in takes."""
    return (Choice("confirm", CONFIRM_LABEL, "primary", outcome="已签到"),)


def checkin_card(week: str, items: list[str]) -> Card:
    """The check-in ask: the week's done items, then 确认签到."""
    intro = CHECKIN_INTRO.format(count=len(items)) if items else CHECKIN_NONE
    shown = items[:12] + ([f"…… 共 {len(items)} 项"] if len(items) > 12 else [])
    return Card(
        title=CHECKIN_TITLE.format(week=week),
        lines=(intro, *shown),
        note=CHECKIN_PHOTO_HINT,
    )


def likes_summary(week: str, rows: list[tuple[str, int]], minimum: int) -> Card:
    """HR's weekly list of supervisors and how many team members each liked."""
    lines = [
        LIKES_SUMMARY_LINE.format(
            name=name,
            count=count,
            flag=LIKES_SUMMARY_LOW.format(minimum=minimum) if count < minimum else "",
        )
        for name, count in rows
    ] or [LIKES_SUMMARY_EMPTY]
    return Card(
        title=LIKES_SUMMARY_TITLE.format(week=week),
        lines=tuple(lines),
        note=LIKES_SUMMARY_NOTE.format(minimum=minimum),
    )


def item_line(kind: str, title: str, code: str = "", points: int = 0) -> str:
    """One done item on the check-in card."""
    if kind == "claim":
        return ITEM_CLAIM.format(code=code, title=title, points=points)
    return (ITEM_RETEST if kind == "retest" else ITEM_TASK).format(title=title)
