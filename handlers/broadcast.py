"""`排行 广播`: HR or admin broadcasts last week's department TOP5 now (once per week)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.context import HandlerContext
from bot.errors import NotAllowed
from bot.jobs.base import claim_period, ranked_week_period
from bot.jobs.leaderboard import broadcast_leaderboard
from bot.models import JobRun, Role
from bot.services.ranking import anyone_scored
from bot.timeutil import local_dt, week_start
from cards import Message, Text

ONLY_HR = "只有 HR 或管理员可以广播排行榜。"
BROADCAST_DONE = "📣 已广播上周（{week}）排行：{boards} 个部门，共 {messages} 条消息。"
ALREADY_BROADCAST = "上周（{week}）的排行已在 {when} 广播过，不会重复发送。"
NOTHING_TO_BROADCAST = "上周（{week}）还没有人得分，没有排行可以广播。"
JOB = "weekly_leaderboard"


def handle_rank_broadcast(ctx: HandlerContext) -> list[Message]:
    """Run the weekly leaderboard broadcast now, sharing its JobRun so it never double-sends.

    A week nobody scored in records no run, so asking again says the same thing instead of
    claiming a broadcast that never went out. Department chats are used on the platform HR
    wrote from (known to be on); other departments get the board 1:1.
    """
    if ctx.sender.role not in (Role.HR, Role.ADMIN):
        raise NotAllowed(ONLY_HR)
    end = week_start(ctx.now, ctx.tz)
    start = end - timedelta(days=7)
    week = _week_label(start, end, ctx)
    if not anyone_scored(ctx.session, start, end):
        return [Text(NOTHING_TO_BROADCAST.format(week=week))]
    period = ranked_week_period(ctx.now, ctx.tz)
    savepoint = ctx.session.begin_nested()
    run = claim_period(ctx.session, JOB, period, ctx.now)
    if run is None:
        savepoint.rollback()
        earlier = ctx.session.scalar(
            select(JobRun).where(JobRun.job == JOB, JobRun.period == period)
        )
        when = local_dt(earlier.finished_at or earlier.started_at, ctx.tz) if earlier else "-"
        return [Text(ALREADY_BROADCAST.format(week=week, when=when))]
    boards, messages = broadcast_leaderboard(
        ctx.session,
        now=ctx.now,
        tz=ctx.tz,
        media_dir=ctx.media_dir,
        platforms=frozenset({ctx.event.platform}),
        period=period,
    )
    if not boards:
        savepoint.rollback()  # only reversals last week: nothing went out, nothing recorded
        return [Text(NOTHING_TO_BROADCAST.format(week=week))]
    run.finished_at, run.result = ctx.now, f"departments={boards} messages={messages} by=chat"
    savepoint.commit()
    return [Text(BROADCAST_DONE.format(week=week, boards=boards, messages=messages))]


def _week_label(start, end, ctx: HandlerContext) -> str:
    """`11/16–11/22`: the ranked week's Monday to Sunday, local."""
    first = start.astimezone(ctx.tz)
    last = (end - timedelta(seconds=1)).astimezone(ctx.tz)
    return f"{first:%m/%d}–{last:%m/%d}"
