"""weekly_leaderboard (Monday ~09:03): per department, the TOP5 of the week before.

Each department gets a PNG (rank, name, points, week-on-week movement) plus the same lines as
text, to its group chat(s) if configured, else to each active member. HR can trigger the same
broadcast from chat (`排行 广播`) or `python -m bot jobs run weekly_leaderboard`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.jobs.common import send_to_department
from bot.models import Department
from bot.notices.images import BoardRow, movement_text, render_leaderboard
from bot.services.images import media_ref
from bot.services.ledger import department_ranking
from bot.services.ranking import rank_standings
from bot.timeutil import week_start
from cards import Card

if TYPE_CHECKING:
    from bot.jobs.base import JobContext

TOP = 5
TITLE = "🏆 {department} 上周积分 TOP{top}"
IMAGE_TITLE = "{department} 上周积分 TOP{top}"  # no emoji: the CJK font has none
SUBTITLE = "{start:%m/%d}–{end:%m/%d} · 名次变化对比前一周"
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
TIED = "并列"
NOTE = "发送「排行」查看本周实时排名，发照片申领积分。"


@dataclass(frozen=True, slots=True)
class Board:
    """One department's ranked week."""

    department: Department
    rows: list[BoardRow]


def build_board(
    session: Session, department: Department, start: datetime, end: datetime
) -> Board | None:
    """Everyone ranked TOP5 or better in [start, end) (ties share a rank, so a board may hold
    more than five), with movement against the week before; None if nobody scored."""
    ranked = [
        r
        for r in rank_standings(department_ranking(session, department.id, start, end))
        if r.standing.points > 0 and r.rank <= TOP
    ]
    if not ranked:
        return None
    before = department_ranking(session, department.id, start - timedelta(days=7), start)
    previous = {
        r.standing.employee_id: r.rank for r in rank_standings([s for s in before if s.points > 0])
    }
    rows = []
    for r in ranked:
        was = previous.get(r.standing.employee_id)
        movement = None if was is None else was - r.rank
        rows.append(BoardRow(r.rank, r.standing.name, r.standing.points, movement, r.tied))
    return Board(department, rows)


def board_card(board: Board, *, start: datetime, end_incl: datetime, image: str | None) -> Card:
    """The card: the image plus a text fallback of the same lines."""
    lines = tuple(
        f"{MEDALS.get(r.rank, f'{r.rank}.')} {r.name} {r.points} 分"
        + (f" {TIED}" if r.tied else "")
        + f" {movement_text(r.movement)}"
        for r in board.rows
    )
    return Card(
        title=TITLE.format(department=board.department.name, top=TOP),
        lines=(SUBTITLE.format(start=start, end=end_incl), *lines),
        image=image,
        note=NOTE,
    )


def broadcast_leaderboard(
    session: Session,
    *,
    now: datetime,
    tz,
    media_dir: Path,
    platforms: frozenset[str],
    period: str,
) -> tuple[int, int]:
    """Rank the week before `now`'s week in every department and queue the boards.

    Returns (departments with a board, messages queued).
    """
    end = week_start(now, tz)
    start = end - timedelta(days=7)
    local_start, local_end = start.astimezone(tz), (end - timedelta(seconds=1)).astimezone(tz)
    boards = sent = 0
    for department in session.scalars(select(Department).order_by(Department.id)):
        board = build_board(session, department, start, end)
        if board is None:
            continue
        subtitle = SUBTITLE.format(start=local_start, end=local_end)
        path = media_dir / "leaderboard" / period / f"dept-{department.id}.png"
        title = IMAGE_TITLE.format(department=department.name, top=TOP)
        render_leaderboard(path, title, subtitle, board.rows)
        card = board_card(
            board, start=local_start, end_incl=local_end, image=media_ref(media_dir, path)
        )
        boards += 1
        sent += send_to_department(session, department, card, now=now, platforms=platforms)
    return boards, sent


def run_weekly_leaderboard(ctx: JobContext) -> str:
    """The weekly job; returns counts."""
    from bot.jobs.base import ranked_week_period

    boards, sent = broadcast_leaderboard(
        ctx.session,
        now=ctx.now,
        tz=ctx.tz,
        media_dir=ctx.media_dir,
        platforms=ctx.platforms,
        period=ranked_week_period(ctx.now, ctx.tz),
    )
    return f"departments={boards} messages={sent}"
