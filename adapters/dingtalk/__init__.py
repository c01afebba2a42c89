"""The `dingtalk` platform (钉钉): an enterprise-internal robot in HTTP mode, interactive cards
and the event subscription (platforms.md §4, design §11).

inbound.py takes the robot, card and event callbacks; client.py sends, updates cards and
downloads images through api.py (the v1.0 API and the old oapi); render.py builds the JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.common.adapter import ComposedAdapter
from adapters.dingtalk.client import DingtalkClient
from adapters.dingtalk.inbound import DingtalkInbound

if TYPE_CHECKING:
    from bot.state import BotState

__all__ = ["DingtalkAdapter"]


class DingtalkAdapter(ComposedAdapter):
    """Enterprise-internal robot (企业内部机器人) in HTTP mode, plus interactive cards."""

    platform = "dingtalk"

    def __init__(self, state: BotState):
        cfg = state.config.platform("dingtalk")
        assert cfg is not None, "dingtalk is not configured"
        super().__init__(DingtalkInbound(state, cfg), DingtalkClient(state, cfg))
