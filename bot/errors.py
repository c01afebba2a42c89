"""Errors that carry a short Chinese message for the user."""

from __future__ import annotations


class BotError(Exception):
    """A refusal the user should see; raised before anything changes."""

    user_message = "操作未完成，请稍后再试。"

    def __init__(self, user_message: str | None = None):
        if user_message is not None:
            self.user_message = user_message
        super().__init__(self.user_message)


class NotAllowed(BotError):
    """The actor may not do this."""

    user_message = "你没有权限执行这个操作。"


class NotFound(BotError):
    """The object does not exist (or is not visible to the actor)."""

    user_message = "没有找到对应的记录。"


class InvalidInput(BotError):
    """The input is malformed or out of range."""

    user_message = "输入有误，请检查后重试。"


class LimitReached(BotError):
    """A cap (daily, weekly, size) would be exceeded."""

    user_message = "已达到上限。"


class ConfigError(Exception):
    """A bad or half-set configuration; the message is one line naming the variable."""


class UpgradeRefused(Exception):
    """A migration found data it will not change as it stands; the message (one line) says
    what it found and what the operator can do."""
