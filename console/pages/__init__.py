"""The console's pages, in nav order. Each page is one small module with a `PAGE` whose
`install` adds its routes, backed by the same services the chat and CLI use (see README, HR
console)."""

from __future__ import annotations

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
    """Add every page's routes."""
    for page in PAGES:
        page.install(bp)


__all__ = ["PAGES", "Page", "install_pages"]
