"""The console's pages, in nav order. Each page is one small module with a `PAGE`.

A page is either built (`install` adds its routes, backed by the same services the chat and
CLI use) or `planned`: its feature is not built yet, so its one route says what the page will
show and what exists today, and the nav marks it 即将上线 — never a dead link. When the feature
lands, its module swaps `planned(...)` for `Page(..., install=install)` (see README, HR console).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint

from console.pages import (
    appeals,
    audit,
    broadcasts,
    campaigns,
    employees,
    overview,
    reports,
    rewards,
    rules,
    surveys,
    tasks,
)
from console.pages.base import Page

PAGES: tuple[Page, ...] = (
    overview.PAGE,
    tasks.PAGE,
    rules.PAGE,
    campaigns.PAGE,
    rewards.PAGE,
    appeals.PAGE,
    employees.PAGE,
    broadcasts.PAGE,
    surveys.PAGE,
    reports.PAGE,
    audit.PAGE,
)


def install_pages(bp: Blueprint) -> None:
    """Add every page's routes (a planned page gets the one that describes it)."""
    for page in PAGES:
        if page.install is not None:
            page.install(bp)
        else:
            bp.add_url_rule(f"/{page.slug}/", page.endpoint, _describe(page))


def _describe(page: Page) -> Callable[[], str]:
    def view() -> str:
        from console.web import page as render

        return render("console/planned.html", page=page)

    return view


__all__ = ["PAGES", "Page", "install_pages"]
