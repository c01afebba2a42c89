"""`teamchat`, a fifth messenger defined entirely inside tests/ to prove the platform table
(design §2: a new platform is one adapter package and one row in bot/platforms.py, with zero
edits elsewhere). Laid out like adapters/<platform>/: inbound.py takes its callbacks, client.py
sends over the shared Open API client, render.py builds its message JSON. Its far end is
tests/fakes/teamchat.py; tests/test_platform_table.py registers SPEC and runs the bot through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.common.adapter import ComposedAdapter
from bot.errors import ConfigError
from bot.platforms import Limit, PlatformSpec
from tests.teamchat.client import TeamchatClient
from tests.teamchat.inbound import TeamchatInbound

if TYPE_CHECKING:
    from bot.state import BotState

__all__ = ["SPEC", "TeamchatAdapter"]


class TeamchatAdapter(ComposedAdapter):
    """teamchat app: signed callbacks in, posts and card updates out."""

    platform = "teamchat"

    def __init__(self, state: BotState):
        cfg = state.config.platform("teamchat")
        assert cfg is not None, "teamchat adapter built without TEAMCHAT_* settings"
        super().__init__(TeamchatInbound(state, cfg), TeamchatClient(state, cfg))


def _check(values: dict[str, str]) -> None:
    if len(values["TEAMCHAT_SIGNING_SECRET"]) < 16:
        raise ConfigError("TEAMCHAT_SIGNING_SECRET: expected at least 16 characters")
    if not values["TEAMCHAT_API_BASE"].startswith(("http://", "https://")):
        raise ConfigError(
            f"TEAMCHAT_API_BASE: expected an http(s) URL, got {values['TEAMCHAT_API_BASE']!r}"
        )


# The one row the core needs (bot.platforms.register(SPEC)).
SPEC = PlatformSpec(
    name="teamchat",
    label="团队聊天",
    adapter="tests.teamchat:TeamchatAdapter",
    required_env=("TEAMCHAT_CLIENT_ID", "TEAMCHAT_CLIENT_SECRET", "TEAMCHAT_SIGNING_SECRET"),
    optional_env=("TEAMCHAT_API_BASE",),
    defaults={"TEAMCHAT_API_BASE": "https://api.teamchat.example"},
    check=_check,
    user_limits=(Limit(5, 60),),
    chat_limits=(Limit(5, 60),),
    identity_column="teamchat_user_id",
    chat_column="teamchat_channel_id",
)
