"""HMAC-signed card button values naming the action, the object and the one employee who may press."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from bot.errors import BotError

CARD_EXPIRED = "这张卡片已过期，请发送「待审」或「帮助」重新查看。"
CARD_INVALID = "这个按钮无效，请重新发送指令。"
NOT_YOUR_BUTTON = "这个按钮不是发给你的，无法操作。"
VERSION = "v1"
# The actor of a button on a card many people share (one read confirmation to everyone): the
# handler resolves who pressed it to their own object and refuses anyone else.
ANYONE = 0


class ActionRefused(BotError):
    """A tampered, expired or malformed button value."""

    user_message = CARD_INVALID


@dataclass(frozen=True, slots=True)
class Action:
    """A verified button press payload."""

    name: str
    object_id: int
    arg: str
    actor_id: int
    expires: int


def _mac(key: str, payload: str) -> str:
    digest = hmac.new(key.encode(), payload.encode(), hashlib.sha256).digest()[:15]
    return base64.urlsafe_b64encode(digest).decode()


def sign_action(
    key: str, name: str, object_id: int, actor_id: int, expires: datetime, arg: str = ""
) -> str:
    """Encode and sign a button value, e.g. `v1|approve|42||7|1767225600|<mac>` (short: WeCom keys are ≤1024 bytes)."""
    if "|" in name or "|" in arg:
        raise ValueError("action name and arg must not contain '|'")
    payload = f"{VERSION}|{name}|{object_id}|{arg}|{actor_id}|{int(expires.timestamp())}"
    return f"{payload}|{_mac(key, payload)}"


def verify_action(key: str, value: str, now: datetime) -> Action:
    """Check a button value's signature and expiry.

    Raises:
        ActionRefused: tampered or malformed (CARD_INVALID) or expired (CARD_EXPIRED).
    """
    parts = (value or "").split("|")
    if len(parts) != 7 or parts[0] != VERSION:
        raise ActionRefused()
    payload, mac = "|".join(parts[:6]), parts[6]
    if not hmac.compare_digest(_mac(key, payload), mac):
        raise ActionRefused()
    try:
        action = Action(parts[1], int(parts[2]), parts[3], int(parts[4]), int(parts[5]))
    except ValueError:
        raise ActionRefused() from None
    if now.timestamp() > action.expires:
        raise ActionRefused(CARD_EXPIRED)
    return action


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs button values with the app's secret key; cards live `ttl_days` by default."""

    key: str
    ttl_days: int = 7

    def sign(self, name: str, object_id: int, actor_id: int, now: datetime, arg: str = "") -> str:
        """A signed value for one button press by `actor_id`."""
        from datetime import timedelta

        expires = now + timedelta(days=self.ttl_days)
        return sign_action(self.key, name, object_id, actor_id, expires, arg)

    def verify(self, value: str, now: datetime) -> Action:
        """Verify a pressed value. Raises ActionRefused."""
        return verify_action(self.key, value, now)
