"""奖励与兑换: the reward catalogue, pending redemptions (holds) and recent decisions.

Approving a redemption is an ask to HR, answered under 我的待办 (or in chat) through the asks
engine, so this page needs no approve button of its own; the rewards import/export forms of
the economy feature plug in here when it lands (see README)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

import console.labels as labels
from bot.models import RedemptionState, Reward
from bot.services.reports import RedemptionLine, redemptions
from console.pages.base import Page
from console.web import age, db, local, page


def view() -> str:
    """Rewards, then pending and recent redemptions."""
    with db() as session:
        rewards = sorted(session.scalars(select(Reward)), key=lambda r: r.code)
        pending = redemptions(session, state=RedemptionState.PENDING)
        recent = [r for r in redemptions(session, limit=50) if r.redemption.state != "pending"]
        rows = [
            {
                "code": r.code, "title": r.title, "kind": labels.REWARD_KINDS.get(r.kind, r.kind),
                "cost": r.cost, "stock": "不限" if r.stock is None else r.stock, "active": r.active,
            }
            for r in rewards
        ]  # fmt: skip

    return page(
        "console/rewards.html", rewards=rows, pending=[_line(r) for r in pending],
        recent=[_line(r) for r in recent],
    )  # fmt: skip


def _line(r: RedemptionLine) -> dict[str, object]:
    return {
        "who": f"{r.employee_name}（{r.employee_no}）",
        "reward": f"{r.reward_code} {r.reward_title}",
        "cost": r.redemption.cost,
        "state": labels.REDEMPTION_STATES.get(r.redemption.state, r.redemption.state),
        "created": local(r.redemption.created_at),
        "age": age(r.redemption.created_at),
        "decided": local(r.redemption.decided_at),
        "reason": r.redemption.reason or "",
    }


def install(bp: Blueprint) -> None:
    """/console/rewards/."""
    bp.add_url_rule("/rewards/", "rewards", view)


PAGE = Page("rewards", "奖励与兑换", install=install)
