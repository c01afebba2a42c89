"""帮助: the command list, also the answer to anything unrecognised."""

from __future__ import annotations

from bot.context import HandlerContext
from bot.models import Role
from cards import Card, Message

HELP_TITLE = "绩效积分机器人 · 帮助"
# Plain examples, no placeholder notation: people copy what they see.
HELP_LINES = (
    "📷 发一张现场照片 → 点选规则，就提交了申领",
    "申领：按类别看全部规则，点一下就能申领",
    "申领 A01 3号模具：按编号申领，后面可加备注",
    "积分：余额、本周、本月和最近记录",
    "排行：本部门本周排行",
    "任务：我的待办",
)
SUPERVISOR_LINES = ("待审：查看待我审核的申领",)
HR_LINES = (
    "排行 广播：把上周各部门排行发到部门群（每周一次）",
    "HR 控制台：浏览器打开本系统的 /console/ 页面，输入工号，验证码会发到这里",
)
UNKNOWN_PREFIX = "没看懂「{text}」，可以这样用："
COMING_SOON = "「{name}」功能即将开放，敬请期待。发送「帮助」查看现在可用的指令。"


def help_card(ctx: HandlerContext, unknown: str | None = None) -> Card:
    """The help card; supervisors also see 待审, HR and admins their own commands."""
    lines = HELP_LINES + (SUPERVISOR_LINES if ctx.sender.is_supervisor else ())
    if ctx.sender.role in (Role.HR, Role.ADMIN):
        lines += HR_LINES
    if unknown:
        lines = (UNKNOWN_PREFIX.format(text=unknown[:20]), *lines)
    return Card(title=HELP_TITLE, lines=lines)


def handle_help(ctx: HandlerContext, args: str) -> list[Message]:
    """帮助 / help."""
    return [help_card(ctx)]
