"""The `wecom` platform (企业微信 self-built app): wechatpy 1.8.18 `wechatpy.enterprise` for the
callback crypto, plain HTTP over the shared client for the Open API (platforms.md §3).

inbound.py takes the callbacks, client.py sends, updates cards and downloads images through
api.py (WeCom's token and error codes), render.py builds the JSON, response_codes.py keeps the
newest unused card response_code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.common.adapter import ComposedAdapter
from adapters.wecom.client import WecomClient
from adapters.wecom.inbound import WecomInbound

if TYPE_CHECKING:
    from bot.state import BotState

__all__ = ["WecomAdapter"]


class WecomAdapter(ComposedAdapter):
    """企业微信 self-built app: callback route, app messages, template cards."""

    platform = "wecom"

    def __init__(self, state: BotState):
        cfg = state.config.platform("wecom")
        assert cfg is not None, "wecom is not configured"
        super().__init__(WecomInbound(state, cfg), WecomClient(state, cfg))
