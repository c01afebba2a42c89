"""The `feishu` platform (飞书 custom app): events and card clicks in, messages and card patches
out, over plain REST; lark_oapi is never imported (platforms.md §5).

inbound.py verifies, decrypts and records the callbacks; client.py sends, patches cards and
moves images through api.py (Feishu's token and error codes); render.py builds card JSON 2.0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.common.adapter import ComposedAdapter
from adapters.feishu.client import FeishuClient
from adapters.feishu.inbound import FeishuInbound

if TYPE_CHECKING:
    from bot.state import BotState

__all__ = ["FeishuAdapter"]


class FeishuAdapter(ComposedAdapter):
    """Feishu custom app (自建应用): events in, messages and card updates out."""

    platform = "feishu"

    def __init__(self, state: BotState):
        cfg = state.config.platform("feishu")
        assert cfg is not None, "feishu adapter built without FEISHU_* settings"
        super().__init__(FeishuInbound(state, cfg), FeishuClient(state, cfg))
