"""The one table of what a platform is (design §2): its environment variables and their checks,
its send limits, the CSV columns that carry its user and group-chat ids, and its adapter.

The core asks this table and never names a platform itself; a new messenger is one adapter
package and one `register(PlatformSpec(...))`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` platform messages per `seconds` to one recipient."""

    count: int
    seconds: int


@dataclass(frozen=True)
class PlatformSpec:
    """Everything the core knows of one platform."""

    name: str
    label: str
    adapter: str  # "package.module:Class", imported only when the platform is on
    required_env: tuple[str, ...] = ()
    optional_env: tuple[str, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)
    # Checks (and may normalize) the values of a configured platform. Raises ConfigError.
    check: Callable[[dict[str, str]], None] | None = None
    user_limits: tuple[Limit, ...] = ()
    chat_limits: tuple[Limit, ...] = ()
    identity_column: str | None = None  # org CSV column holding the user id
    chat_column: str | None = None  # departments CSV column holding the group chat id
    chat_id_max: int = 100

    def limits(self, kind: str) -> tuple[Limit, ...]:
        """Send limits per recipient `kind` ("user" or "chat")."""
        return self.chat_limits if kind == "chat" else self.user_limits


def _http_urls(*keys: str) -> Callable[[dict[str, str]], None]:
    def check(values: dict[str, str]) -> None:
        for key in keys:
            if not values[key].startswith(("http://", "https://")):
                raise ConfigError(f"{key}: expected an http(s) URL, got {values[key]!r}")

    return check


def _aes_key(key: str, values: dict[str, str]) -> None:
    if values.get(key) and len(values[key]) != 43:
        raise ConfigError(f"{key}: expected 43 characters, got {len(values[key])}")


def _check_wecom(values: dict[str, str]) -> None:
    _aes_key("WECOM_AES_KEY", values)
    if not values["WECOM_AGENT_ID"].isdigit():
        raise ConfigError("WECOM_AGENT_ID: expected a number")
    _http_urls("WECOM_API_BASE")(values)
    if not values["WECOM_API_BASE"].endswith("/"):
        values["WECOM_API_BASE"] += "/"


def _check_dingtalk(values: dict[str, str]) -> None:
    _aes_key("DINGTALK_AES_KEY", values)
    if bool(values["DINGTALK_TOKEN"]) != bool(values["DINGTALK_AES_KEY"]):
        which = "DINGTALK_AES_KEY" if values["DINGTALK_TOKEN"] else "DINGTALK_TOKEN"
        raise ConfigError(f"{which}: DINGTALK_TOKEN and DINGTALK_AES_KEY must be set together")
    _http_urls("DINGTALK_API_BASE", "DINGTALK_OAPI_BASE")(values)


# The local web chat: on whenever BOT_ENV is not production, reached by employee number.
LOCAL = PlatformSpec(name="local", label="本地网页聊天", adapter="adapters.local:LocalAdapter")

# In the order a person without a preferred or last-used platform is reached (design §10).
PLATFORMS: dict[str, PlatformSpec] = {
    "wecom": PlatformSpec(
        name="wecom",
        label="企业微信",
        adapter="adapters.wecom:WecomAdapter",
        required_env=(
            "WECOM_CORP_ID",
            "WECOM_AGENT_ID",
            "WECOM_SECRET",
            "WECOM_TOKEN",
            "WECOM_AES_KEY",
        ),
        optional_env=("WECOM_API_BASE",),
        defaults={"WECOM_API_BASE": "https://qyapi.weixin.qq.com/cgi-bin/"},
        check=_check_wecom,
        # platforms.md §3: above 30/min or 1000/h per member WeCom drops messages silently.
        user_limits=(Limit(30, 60), Limit(1000, 3600)),
        chat_limits=(Limit(20, 60),),
        identity_column="wecom_userid",
        chat_column="wecom_chatid",
    ),
    "dingtalk": PlatformSpec(
        name="dingtalk",
        label="钉钉",
        adapter="adapters.dingtalk:DingtalkAdapter",
        required_env=("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_ROBOT_CODE"),
        optional_env=(
            "DINGTALK_AGENT_ID",
            "DINGTALK_TOKEN",
            "DINGTALK_AES_KEY",
            "DINGTALK_CARD_TEMPLATE_ID",
            "DINGTALK_API_BASE",
            "DINGTALK_OAPI_BASE",
            "DINGTALK_CORP_ID",
        ),
        defaults={
            "DINGTALK_API_BASE": "https://api.dingtalk.com",
            "DINGTALK_OAPI_BASE": "https://oapi.dingtalk.com",
        },
        check=_check_dingtalk,
        # platforms.md §4: a robot is blocked for 10 min after 20/min in one group; work
        # notices stop at 500 per user per day.
        user_limits=(Limit(20, 60), Limit(500, 86400)),
        chat_limits=(Limit(20, 60),),
        identity_column="dingtalk_userid",
        chat_column="dingtalk_open_conversation_id",
        chat_id_max=200,
    ),
    "feishu": PlatformSpec(
        name="feishu",
        label="飞书",
        adapter="adapters.feishu:FeishuAdapter",
        required_env=("FEISHU_APP_ID", "FEISHU_APP_SECRET", "FEISHU_VERIFICATION_TOKEN"),
        optional_env=("FEISHU_ENCRYPT_KEY", "FEISHU_DOMAIN"),
        defaults={"FEISHU_DOMAIN": "https://open.feishu.cn"},
        check=_http_urls("FEISHU_DOMAIN"),
        # platforms.md §5: 429 with a reset header past the limit (retried); this only keeps a
        # broadcast burst from tripping it.
        user_limits=(Limit(5, 1), Limit(100, 60)),
        chat_limits=(Limit(5, 1), Limit(100, 60)),
        identity_column="feishu_open_id",
        chat_column="feishu_chat_id",
    ),
}


def register(spec: PlatformSpec) -> None:
    """Add (or replace) a messenger platform; it is switched on by its environment variables."""
    PLATFORMS[spec.name] = spec


def spec_of(name: str) -> PlatformSpec | None:
    """The spec of a messenger platform or of `local`; None when unknown."""
    return LOCAL if name == "local" else PLATFORMS.get(name)


def identity_columns() -> dict[str, str]:
    """platform → org CSV column holding that platform's user id."""
    return {p.name: p.identity_column for p in PLATFORMS.values() if p.identity_column}


def chat_columns() -> dict[str, str]:
    """platform → departments CSV column holding that platform's group chat id."""
    return {p.name: p.chat_column for p in PLATFORMS.values() if p.chat_column}


def rate_limits() -> dict[str, dict[str, tuple[Limit, ...]]]:
    """platform → recipient kind → limits, for every known platform (a fresh, mutable copy)."""
    return {
        p.name: {"user": p.user_limits, "chat": p.chat_limits}
        for p in PLATFORMS.values()
        if p.user_limits or p.chat_limits
    }
