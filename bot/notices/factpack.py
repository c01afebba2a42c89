"""What the 1:1 fact pack (面谈资料) says, and how peer comments lose their emotional words.

Peer comments keep what someone did and drop how the writer felt about it: each clause loses
the words in EMOTIONAL_WORDS (with an intensifier in front, 太懒了 → nothing) and FILLERS;
a clause with too little left (他太懒了, 真让人失望) is dropped, the rest are joined again
(他太懒了，交接记录经常不写，真让人失望！ → 交接记录经常不写。). Exclamation marks and emoji go.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from cards import Card, Field

# Feelings and judgements of the person rather than of what they did, negative and positive.
EMOTIONAL_WORDS = (
    "讨厌", "恶心", "垃圾", "废物", "愚蠢", "笨蛋", "蠢", "傻", "无能", "懒惰", "懒", "烂",
    "差劲", "糟糕", "可恶", "气死人", "气死", "烦死", "烦人", "受不了", "失望", "无语",
    "崩溃", "生气", "愤怒", "郁闷", "委屈", "难受", "开心", "感动", "崇拜", "完美", "超棒",
    "最棒", "太棒", "棒", "点赞", "赞", "牛", "厉害", "爱死", "佩服",
)  # fmt: skip
INTENSIFIERS = ("太", "很", "非常", "特别", "超级", "真的", "真", "实在", "简直", "好")
FILLERS = ("哈哈", "呵呵", "唉", "哎", "嘿", "啦", "呀", "吧", "嘛", "哦")
_EMOTION = re.compile(
    "(?:" + "|".join(INTENSIFIERS) + ")?(?:" + "|".join(EMOTIONAL_WORDS) + ")(?:了|啊|的)?"
)
_FILLER = re.compile("|".join(FILLERS))
_CLAUSES = re.compile(r"[，。！？；,.!?;\n…~～]+")
_NOT_TEXT = re.compile(r"[^\w\u3400-\u9fff]+")  # emoji, symbols, stray punctuation
_WEAK = set("他她我你们了的啊是就也都很太真让人得这那个")
MIN_CLAUSE = 3  # characters of substance a clause keeps, besides pronouns and particles


def neutral_comment(text: str) -> str:
    """`text` without emotional words, fillers, emoji or exclamations; '' if nothing of
    substance is left."""
    kept = []
    for clause in _CLAUSES.split(text):
        stripped = _EMOTION.sub("", clause)
        if stripped != clause:
            stripped = stripped.rstrip("得地")  # 写得太烂了 → 写得 → 写
        clause = _NOT_TEXT.sub("", _FILLER.sub("", stripped))
        if sum(ch not in _WEAK for ch in clause) >= MIN_CLAUSE:
            kept.append(clause)
    return "，".join(kept) + "。" if kept else ""


USAGE = "用法：面谈 <姓名或工号>，如「面谈 张伟」。查看本团队成员的面谈资料。"
ONLY_LEADS = "面谈资料只提供给主管（查看本团队成员）和 HR。"
NOT_YOUR_TEAM = "{name} 不在你的团队，面谈资料只能查看自己团队的成员。"
UNKNOWN = "没有找到「{who}」，请检查姓名或工号。"
AMBIGUOUS = "有 {count} 位同事叫「{who}」，请用工号：{options}"

TITLE = "1:1 面谈资料 · {name}"
IMAGE_TITLE = "{name} · 1:1 面谈资料"  # no emoji: the CJK font has none
IMAGE_SUBTITLE = "{department}近 12 周任务完成情况 · {start:%Y/%m/%d}–{end:%m/%d}"
TASKS_LINE = "任务：按时 {on_time} · 逾期 {late} · 未完成 {missed}{rate}"
RATE = " · 按时率 {rate}%"
NO_TASKS = "任务：近 12 周没有带截止时间的待办。"
KEY_HEADER = "关键行动（已通过的申领）："
KEY_LINE = "· {day} {code} {title} +{points}{photo}"
KEY_NONE = "关键行动：近 12 周没有已通过的申领。"
PHOTO_MARK = " 📷"
LIKES_LINE = "获赞 {count} 次{latest}"
LIKES_LATEST = "，最近：{items}"
LIKE_ITEM = "{giver}「{reason}」"
LIKE_ITEM_PLAIN = "{giver}"
COMMENTS_HEADER = "同事评价（匿名，已去除情绪化用词）："
COMMENT_LINE = "· {text}"
NOTE = (
    "任务 = 发给本人且有截止时间的待办（审批、任务提醒、签到、变更确认等，匿名问卷除外）；"
    "按时 = 截止前完成，逾期 = 截止后完成，未完成 = 已过截止仍未完成。"
)
CLAIM_TITLE = "关键行动 · {code} {title}"
CLAIM_LINE = "{day} 通过 · +{points} 分"
CLAIM_NOTE = "备注：{note}"
LEGEND = (("按时", "on_time"), ("逾期完成", "late"), ("未完成", "missed"), ("无任务", "none"))
WEEKDAYS = "一二三四五六日"
IMAGE_TOTALS = "按时 {on_time} · 逾期 {late} · 未完成 {missed}{rate}"
IMAGE_RATE = " · 按时率 {rate}%"
IMAGE_FACTS = "近 12 周：积分 {points:+d} · 关键行动 {claims} 项 · 获赞 {likes} 次"
IMAGE_FOOT = (
    "任务 = 发给本人且有截止时间的待办；按时 = 截止前完成，逾期 = 截止后完成",
    "格子颜色 = 当天最差的结果，数字 = 当天到期的任务数",
)


def factpack_card(
    *, name: str, totals: dict[str, int], rate: int | None, points: int,
    claims: Sequence[tuple[datetime, str, str, int, bool]],
    likes: Sequence[tuple[str, str | None]], comments: Sequence[str], image: str | None,
    tz: ZoneInfo,
) -> Card:  # fmt: skip
    """The fact pack card: the heatmap image, task totals, key actions, likes, comments.

    `claims` are (decided at, code, title, points, has photo); `likes` (giver, reason),
    newest first.
    """
    counted = sum(totals.values())
    lines = [
        TASKS_LINE.format(
            on_time=totals.get("on_time", 0), late=totals.get("late", 0),
            missed=totals.get("missed", 0), rate=RATE.format(rate=rate) if rate is not None else "",
        ) if counted else NO_TASKS
    ]  # fmt: skip
    if claims:
        lines.append(KEY_HEADER)
        lines += [
            KEY_LINE.format(day=f"{when.astimezone(tz):%m/%d}", code=code, title=title,
                            points=pts, photo=PHOTO_MARK if photo else "")
            for when, code, title, pts, photo in claims
        ]  # fmt: skip
    else:
        lines.append(KEY_NONE)
    shown = [
        LIKE_ITEM.format(giver=g, reason=r) if r else LIKE_ITEM_PLAIN.format(giver=g)
        for g, r in likes[:2]
    ]
    latest = LIKES_LATEST.format(items="、".join(shown)) if shown else ""
    lines.append(LIKES_LINE.format(count=len(likes), latest=latest))
    if comments:
        lines.append(COMMENTS_HEADER)
        lines += [COMMENT_LINE.format(text=c) for c in comments]
    return Card(
        title=TITLE.format(name=name),
        lines=tuple(lines),
        fields=(Field("近12周积分", f"{points:+d}"), Field("获赞", str(len(likes)))),
        image=image,
        note=NOTE,
    )


def claim_card(
    *, code: str, title: str, when: datetime, points: int, note: str | None, image: str,
    tz: ZoneInfo,
) -> Card:  # fmt: skip
    """One key action with its photo."""
    lines = [CLAIM_LINE.format(day=f"{when.astimezone(tz):%m/%d}", points=points)]
    if note:
        lines.append(CLAIM_NOTE.format(note=note[:100]))
    return Card(title=CLAIM_TITLE.format(code=code, title=title), lines=tuple(lines), image=image)
