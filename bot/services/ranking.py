"""Ranks on a leaderboard (排行): equal points share a rank, the next rank skips (1, 1, 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot.models import LedgerEntry
from bot.services.ledger import Standing


@dataclass(frozen=True, slots=True)
class Ranked:
    """A standing with its competition rank; `tied` when someone else has the same points."""

    rank: int
    tied: bool
    standing: Standing


def rank_standings(standings: Sequence[Standing]) -> list[Ranked]:
    """Standard competition ranking of standings already sorted best first."""
    counts: dict[int, int] = {}
    for s in standings:
        counts[s.points] = counts.get(s.points, 0) + 1
    ranked: list[Ranked] = []
    for position, s in enumerate(standings, start=1):
        rank = position if not ranked or ranked[-1].standing.points != s.points else ranked[-1].rank
        ranked.append(Ranked(rank, counts[s.points] > 1, s))
    return ranked


def rank_of(ranked: Sequence[Ranked], employee_id: int) -> Ranked | None:
    """One person's line of a ranking, or None when they are not on it."""
    return next((r for r in ranked if r.standing.employee_id == employee_id), None)


def anyone_scored(session: Session, start: datetime, end: datetime) -> bool:
    """True when some department member earned points in [start, end)."""
    query = select(
        exists().where(
            LedgerEntry.department_id.is_not(None),
            LedgerEntry.points > 0,
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    )
    return bool(session.scalar(query))
