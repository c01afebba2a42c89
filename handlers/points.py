"""积分 and 排行: balance, week, month, recent entries; the department's weekly ranking."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.context import HandlerContext
from bot.models import Campaign, LedgerEntry
from bot.notices import rewards as reward_texts
from bot.notices.campaigns import award_text
from bot.notices.reviews import VOUCHER_LINE
from bot.services import rewards
from bot.services.checkins import vouchers_of
from bot.services.ledger import balance, department_ranking, recent_entries
from bot.services.ranking import rank_of, rank_standings
from bot.timeutil import local_dt, month_start, week_start
from cards import Card, Field, Message, Text

NO_DEPARTMENT = "你还没有分配部门，暂无排行。请联系 HR。"
NO_POINTS_YET = "本周部门还没有人得分，发照片申领第一个吧！"
RANK_LIMIT = 10
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
TIED = "（并列）"
MY_RANK = "我的名次：第 {rank} 名{tied}"
NOT_RANKED = "我本周还没有得分"


def handle_points(ctx: HandlerContext, args: str) -> list[Message]:
    """积分 / points."""
    me = ctx.sender
    total = balance(ctx.session, me.id)
    week = balance(ctx.session, me.id, week_start(ctx.now, ctx.tz))
    month = balance(ctx.session, me.id, month_start(ctx.now, ctx.tz))
    lines = tuple(entry_lines(ctx, recent_entries(ctx.session, me.id, 12))[:5]) or (
        "还没有积分记录，发一张照片开始申领吧。",
    )
    held = rewards.held(ctx.session, me.id)
    fields = [Field("余额", f"{total} 分")]
    if held:
        fields += list(reward_texts.held_fields(total, held))
    fields += [Field("本周", f"{week} 分"), Field("本月", f"{month} 分")]
    # 半天调休 vouchers from check-in streaks are zero-cost redemptions: no ledger line shows
    # them, so the card names them.
    vouchers = vouchers_of(ctx.session, me)
    extra = (VOUCHER_LINE.format(count=len(vouchers)),) if vouchers else ()
    return [
        Card(
            title=f"{me.name} 的积分",
            fields=tuple(fields),
            lines=(*extra, "最近记录：", *lines),
        )
    ]


def entry_lines(ctx: HandlerContext, entries: list[LedgerEntry]) -> list[str]:
    """One line per claim (its campaign bonuses folded in and named), one per other entry."""
    names = {cid: name for cid, name in ctx.session.execute(select(Campaign.id, Campaign.name))}
    groups: list[list[LedgerEntry]] = []
    for e in entries:
        same = groups and e.claim_id is not None and groups[-1][0].claim_id == e.claim_id
        if same and e.reversal_of_id is None and groups[-1][0].reversal_of_id is None:
            groups[-1].append(e)
        else:
            groups.append([e])
    lines = []
    for group in groups:
        main = next((e for e in group if e.campaign_id is None), group[0])
        bonuses = [(names.get(e.campaign_id or 0, "-"), e.points) for e in group if e.campaign_id]
        total = sum(e.points for e in group)
        shown = award_text(total, bonuses) if bonuses else f"{total:+d}"
        lines.append(f"{local_dt(main.created_at, ctx.tz)} {shown} {main.memo}")
    return lines


def handle_rank(ctx: HandlerContext, args: str) -> list[Message]:
    """排行 / rank: this week's standing in the sender's department."""
    if args.strip().lower() in ("广播", "broadcast"):
        from handlers.broadcast import handle_rank_broadcast

        return handle_rank_broadcast(ctx)
    me = ctx.sender
    if me.department_id is None:
        return [Text(NO_DEPARTMENT)]
    start = week_start(ctx.now, ctx.tz)
    standings = department_ranking(ctx.session, me.department_id, start, start + timedelta(days=7))
    if not standings:
        return [Text(NO_POINTS_YET)]
    ranked = rank_standings(standings)
    lines = [
        f"{MEDALS.get(r.rank, f'{r.rank}.')} {r.standing.name} {r.standing.points} 分"
        + (TIED if r.tied else "")
        + (" ← 我" if r.standing.employee_id == me.id else "")
        for r in ranked[:RANK_LIMIT]
    ]
    mine = rank_of(ranked, me.id)
    note = MY_RANK.format(rank=mine.rank, tied=TIED if mine.tied else "") if mine else NOT_RANKED
    dept = me.department.name if me.department else ""
    return [Card(title=f"{dept} 本周排行", lines=tuple(lines), note=note)]
