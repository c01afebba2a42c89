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
    "签到：本周签到，连续 4 周得半天调休",
    "点赞 张伟 帮我调好了送料机：夸夸同事",
    "建议 3号线加装防护罩：提改善建议，主管 72 小时内答复",
    "兑换：用积分兑换礼品、调休、晋升评审优先",
    "能力：我的能力雷达和人才标签",
    "申诉 12 照片是当天拍的：对被驳回的申领申诉（30 天内，发「申诉」看进度）",
)
SUPERVISOR_LINES = (
    "待审：查看待我审核（含复核）的申领",
    "面谈 张伟：团队成员的 1:1 面谈资料",
)
HR_LINES = (
    "面谈 张伟：任何员工的 1:1 面谈资料",
    "通知 周六设备检修：发通知；通知 重要 周六设备检修：需确认已读；通知 状态：已读情况",
    "复核：近 30 天需要关注的审批",
    "建议 统计：各部门建议和答复情况",
    "变更 ECO-2026-118：变更确认进度（发起人、HR）",
    "排行 广播：把上周各部门排行发到部门群（每周一次）",
    "HR 控制台：浏览器打开本系统的 /console/ 页面，输入工号，验证码会发到这里",
)
UNKNOWN_PREFIX = "没看懂「{text}」，可以这样用："


def help_card(ctx: HandlerContext, unknown: str | None = None) -> Card:
    """The help card: everyone's commands, then what the sender's role adds (supervisors:
    待审 and 面谈 for their team; HR and admins: 待审, 面谈 for anyone, 通知 and the console)."""
    lines = HELP_LINES
    if ctx.sender.role in (Role.HR, Role.ADMIN):
        lines += SUPERVISOR_LINES[:1] + HR_LINES
    elif ctx.sender.is_supervisor:
        lines += SUPERVISOR_LINES
    if unknown:
        lines = (UNKNOWN_PREFIX.format(text=unknown[:20]), *lines)
    return Card(title=HELP_TITLE, lines=lines)


def handle_help(ctx: HandlerContext, args: str) -> list[Message]:
    """帮助 / help."""
    return [help_card(ctx)]
