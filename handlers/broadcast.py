"""`排行 广播`: HR or admin broadcasts last week's department TOP5 now (once per week)."""

from __future__ import annotations

from bot.context import HandlerContext
from bot.errors import NotAllowed
from bot.jobs.base import claim_period, ranked_week_period
from bot.jobs.leaderboard import broadcast_leaderboard
from bot.models import Role
from cards import Message, Text

ONLY_HR = "只有 HR 或管理员可以广播排行榜。"
BROADCAST_DONE = "📣 已广播上周排行（{period}）：{boards} 个部门，{messages} 条消息。"
ALREADY_BROADCAST = "上周排行（{period}）已经广播过，不会重复发送。"
NOTHING_TO_BROADCAST = "上周（{period}）还没有人得分，没有可广播的排行。"
JOB = "weekly_leaderboard"


def handle_rank_broadcast(ctx: HandlerContext) -> list[Message]:
    """Run the weekly leaderboard broadcast now, sharing its JobRun so it never double-sends.

    Department chats are used on the platform HR wrote from (known to be on); other
    departments get the board 1:1.
    """
    if ctx.sender.role not in (Role.HR, Role.ADMIN):
        raise NotAllowed(ONLY_HR)
    period = ranked_week_period(ctx.now, ctx.tz)
    run = claim_period(ctx.session, JOB, period, ctx.now)
    if run is None:
        return [Text(ALREADY_BROADCAST.format(period=period))]
    boards, messages = broadcast_leaderboard(
        ctx.session,
        now=ctx.now,
        tz=ctx.tz,
        media_dir=ctx.media_dir,
        platforms=frozenset({ctx.event.platform}),
        period=period,
    )
    run.finished_at, run.result = ctx.now, f"departments={boards} messages={messages} by=chat"
    if not boards:
        return [Text(NOTHING_TO_BROADCAST.format(period=period))]
    return [Text(BROADCAST_DONE.format(period=period, boards=boards, messages=messages))]
