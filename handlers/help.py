"""帮助: the command list, also the answer to anything unrecognised."""

from __future__ import annotations

from bot.context import HandlerContext
from cards import Card, Message

HELP_TITLE = "绩效积分机器人 · 帮助"
HELP_LINES = (
    "📷 直接发照片 → 选规则 → 提交申领",
    "申领 <编号> [备注]：按编号申领，如「申领 A01 3号模具」",
    "积分：余额、本周、本月和最近记录",
    "排行：本部门本周排行",
    "申领：查看全部规则编号",
    "签到：本周签到，连续 4 周得半天调休",
    "点赞 <姓名或工号> [理由]：夸夸同事",
    "申诉 <申领编号> <理由>：对被驳回的申领申诉（30 天内，发「申诉」看进度）",
)
SUPERVISOR_LINES = ("待审：查看待我审核的申领",)
UNKNOWN_PREFIX = "没看懂「{text}」，可以这样用："
COMING_SOON = "「{name}」功能即将开放，敬请期待。发送「帮助」查看现在可用的指令。"


def help_card(ctx: HandlerContext, unknown: str | None = None) -> Card:
    """The help card; supervisors also see 待审."""
    lines = HELP_LINES + (SUPERVISOR_LINES if ctx.sender.is_supervisor else ())
    if unknown:
        lines = (UNKNOWN_PREFIX.format(text=unknown[:20]), *lines)
    return Card(title=HELP_TITLE, lines=lines)


def handle_help(ctx: HandlerContext, args: str) -> list[Message]:
    """帮助 / help."""
    return [help_card(ctx)]
