"""活动: campaigns that add a bonus per approved claim (design §15), read-only until the
campaigns service exists; then its create and end forms plug in here (see README)."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from bot.models import Campaign
from console.pages.base import Page
from console.web import db, local, now, page


def view() -> str:
    """Every campaign, running ones first."""
    when = now()
    with db() as session:
        rows = list(session.scalars(select(Campaign).order_by(Campaign.starts_at.desc())))
        items = [
            {
                "name": c.name,
                "bonus": c.bonus_points,
                "window": f"{local(c.starts_at)} – {local(c.ends_at)}",
                "category": c.category or "全部规则",
                "running": c.active and c.starts_at <= when < c.ends_at,
            }
            for c in rows
        ]
    items.sort(key=lambda item: not item["running"])
    return page("console/campaigns.html", items=items)


def install(bp: Blueprint) -> None:
    """/console/campaigns/."""
    bp.add_url_rule("/campaigns/", "campaigns", view)


PAGE = Page("campaigns", "活动", install=install)
