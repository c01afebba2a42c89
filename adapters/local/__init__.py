"""The `local` platform: a web chat for development and demos (never in production).

Its transport is the local_messages table: inbound posts become Events like any platform's
(routes.py), outbound messages are rows the page polls (client.py), shown as HTML (render.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.common.adapter import ComposedAdapter
from adapters.local.client import LocalClient
from adapters.local.routes import LocalChat

if TYPE_CHECKING:
    from bot.state import BotState

__all__ = ["LocalAdapter"]


class LocalAdapter(ComposedAdapter):
    """Web chat at /local/: pick an employee, chat, tap card buttons, send photos."""

    platform = "local"

    def __init__(self, state: BotState):
        super().__init__(LocalChat(state), LocalClient(state))
