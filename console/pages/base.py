"""What a console page is: its place in the nav and how it adds its routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint


@dataclass(frozen=True)
class Page:
    """A console page: URL slug (`/console/<slug>/`), nav title, and `install(bp)` adding its
    routes, the first of which has endpoint `console.<endpoint>`."""

    slug: str
    title: str
    install: Callable[[Blueprint], None]

    @property
    def endpoint(self) -> str:
        """The endpoint of the page's main route (`overview` for the slug-less front page)."""
        return self.slug or "overview"

    def is_current(self, endpoint: str) -> bool:
        """True when `endpoint` (without `console.`) is one of this page's routes."""
        stem = self.slug.rstrip("s")
        return endpoint == self.endpoint or bool(stem) and endpoint.startswith(stem)
