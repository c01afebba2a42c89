"""What campaigns (活动) say: the bonus named wherever points are shown, and the CLI's answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from bot.models import Campaign
from bot.timeutil import local_dt

BONUS_PART = "{name} +{bonus}"
WITH_BONUS = "{total:+d} 分（含{parts}）"
PLAIN = "{total:+d} 分"
SHORT_WITH_BONUS = "{total:+d}（含{parts}）"
RUNNING_LINE = "🎁 {name}进行中：{scope}每次申领另加 {bonus} 分（至 {until}）"
SCOPE_ALL = ""
SCOPE_RULES = "申领 {rules} "

# CLI (English for the operator's log, the Chinese in brackets for HR)
BAD_NAME = "NAME must be 1 to {limit} characters (活动名称长度应为 1–{limit} 个字符)"
BAD_BONUS = "--bonus must be an integer from 1 to {limit} (加分应为 1–{limit} 的整数)"
BAD_WINDOW = "--to {to} is before --from {start} (结束日期早于开始日期)"
UNKNOWN_RULES = "unknown rule code(s): {codes} (规则编号不存在)"
NAME_TAKEN = (
    "a campaign named {name!r} is running or scheduled until {until}; end it first or pick "
    "another name (同名活动尚未结束)"
)
NOT_RUNNING = "no running or scheduled campaign named {name!r} (没有进行中或待开始的同名活动)"
CREATED = "created campaign {name}: +{bonus} per claim, {start} to {end}{rules} (已创建活动)"
ENDED = "ended campaign {name} at {when} (活动已结束)"
NONE = "no campaigns (暂无活动)"
ALL_RULES = "all"
STATE_WORDS = {"running": "running", "scheduled": "scheduled", "ended": "ended"}


def award_text(total: int, bonuses: Iterable[tuple[str, int]]) -> str:
    """`+22 分（含上线推广 +2）`, or `+20 分` without a bonus: the one way points are shown."""
    parts = "、".join(BONUS_PART.format(name=n, bonus=b) for n, b in bonuses)
    return WITH_BONUS.format(total=total, parts=parts) if parts else PLAIN.format(total=total)


def award_short(total: int, bonuses: Iterable[tuple[str, int]]) -> str:
    """`+22（含上线推广 +2）` for lists and buttons."""
    parts = "、".join(BONUS_PART.format(name=n, bonus=b) for n, b in bonuses)
    return SHORT_WITH_BONUS.format(total=total, parts=parts) if parts else f"{total:+d}"


def running_line(campaign: Campaign, codes: Sequence[str], tz: ZoneInfo) -> str:
    """`🎁 上线推广进行中：每次申领另加 2 分（至 01-25 00:00）`."""
    scope = SCOPE_RULES.format(rules="、".join(codes)) if codes else SCOPE_ALL
    return RUNNING_LINE.format(
        name=campaign.name, scope=scope, bonus=campaign.bonus_points,
        until=local_dt(campaign.ends_at, tz),
    )  # fmt: skip
