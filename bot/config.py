"""Configuration from the environment (design §4), validated at start with one-line errors."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError

PLATFORM_VARS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # platform: (required when any is set, optional)
    "wecom": (
        ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY"),
        ("WECOM_API_BASE",),
    ),
    "dingtalk": (
        ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_ROBOT_CODE"),
        (
            "DINGTALK_AGENT_ID",
            "DINGTALK_TOKEN",
            "DINGTALK_AES_KEY",
            "DINGTALK_CARD_TEMPLATE_ID",
            "DINGTALK_API_BASE",
            "DINGTALK_OAPI_BASE",
            "DINGTALK_CORP_ID",
        ),
    ),
    "feishu": (
        ("FEISHU_APP_ID", "FEISHU_APP_SECRET", "FEISHU_VERIFICATION_TOKEN"),
        ("FEISHU_ENCRYPT_KEY", "FEISHU_DOMAIN"),
    ),
}

DEFAULTS = {
    "WECOM_API_BASE": "https://qyapi.weixin.qq.com/cgi-bin/",
    "DINGTALK_API_BASE": "https://api.dingtalk.com",
    "DINGTALK_OAPI_BASE": "https://oapi.dingtalk.com",
    "FEISHU_DOMAIN": "https://open.feishu.cn",
}


@dataclass(frozen=True)
class Config:
    """Validated settings; build with `load_config(os.environ)`."""

    database_url: str = "sqlite:///var/bot.db"
    media_dir: Path = Path("var/media")
    secret_key: str = ""
    timezone: str = "Asia/Shanghai"
    api_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    env: str = "development"
    var_dir: Path = Path("var")
    platforms: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        """The schedule and report time zone."""
        return ZoneInfo(self.timezone)

    @property
    def is_production(self) -> bool:
        """True when BOT_ENV=production: the local web chat is then unreachable."""
        return self.env == "production"

    def platform(self, name: str) -> dict[str, str] | None:
        """The settings of one enabled platform, or None when it is off."""
        return self.platforms.get(name)


def _read_secret_key(var_dir: Path) -> str:
    """Read var/secret_key, creating it (0600) on first use."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _check_platform(name: str, env: Mapping[str, str]) -> dict[str, str] | None:
    required, optional = PLATFORM_VARS[name]
    present = [v for v in required + optional if env.get(v)]
    if not any(env.get(v) for v in required):
        return None
    missing = [v for v in required if not env.get(v)]
    if missing:
        set_ = ", ".join(v for v in present if v in required)
        raise ConfigError(f"{missing[0]}: required when {set_} is set ({name} is half configured)")
    values = {v: env.get(v) or DEFAULTS.get(v, "") for v in required + optional}
    for key in ("WECOM_AES_KEY", "DINGTALK_AES_KEY"):
        if key in values and values[key] and len(values[key]) != 43:
            raise ConfigError(f"{key}: expected 43 characters, got {len(values[key])}")
    if name == "dingtalk" and bool(values["DINGTALK_TOKEN"]) != bool(values["DINGTALK_AES_KEY"]):
        which = "DINGTALK_AES_KEY" if values["DINGTALK_TOKEN"] else "DINGTALK_TOKEN"
        raise ConfigError(f"{which}: DINGTALK_TOKEN and DINGTALK_AES_KEY must be set together")
    if name == "wecom" and not values["WECOM_AGENT_ID"].isdigit():
        raise ConfigError("WECOM_AGENT_ID: expected a number")
    for key in ("WECOM_API_BASE", "DINGTALK_API_BASE", "DINGTALK_OAPI_BASE", "FEISHU_DOMAIN"):
        if key in values and not values[key].startswith(("http://", "https://")):
            raise ConfigError(f"{key}: expected an http(s) URL, got {values[key]!r}")
    if name == "wecom" and not values["WECOM_API_BASE"].endswith("/"):
        values["WECOM_API_BASE"] += "/"
    return values


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build a Config from environment variables.

    Raises:
        ConfigError: a value is bad or a platform is half configured (one line, names the variable).
    """
    env = os.environ if env is None else env
    var_dir = Path(env.get("BOT_VAR_DIR") or "var")
    database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir}/bot.db"
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL: not a database URL: {database_url[:40]!r}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"DATABASE_URL: unsupported database {url.get_backend_name()!r}")
    timezone = env.get("BOT_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"BOT_TIMEZONE: unknown time zone {timezone!r}") from None
    bot_env = env.get("BOT_ENV") or "development"
    if bot_env not in ("development", "production", "test"):
        raise ConfigError(f"BOT_ENV: expected development, production or test, got {bot_env!r}")
    secret_key = env.get("BOT_SECRET_KEY") or ""
    if secret_key and len(secret_key) < 16:
        raise ConfigError(f"BOT_SECRET_KEY: expected at least 16 characters, got {len(secret_key)}")
    if not secret_key:
        if bot_env == "production":
            raise ConfigError("BOT_SECRET_KEY: required when BOT_ENV=production")
        secret_key = _read_secret_key(var_dir)
    public_url = (env.get("BOT_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"BOT_PUBLIC_URL: expected an http(s) URL, got {public_url!r}")
    api_token = env.get("BOT_API_TOKEN") or None
    if api_token is not None and len(api_token) < 16:
        raise ConfigError(f"BOT_API_TOKEN: expected at least 16 characters, got {len(api_token)}")
    platforms = {}
    for name in PLATFORM_VARS:
        values = _check_platform(name, env)
        if values is not None:
            platforms[name] = values
    return Config(
        database_url=database_url,
        media_dir=Path(env.get("BOT_MEDIA_DIR") or var_dir / "media"),
        secret_key=secret_key,
        timezone=timezone,
        api_token=api_token,
        public_url=public_url,
        env=bot_env,
        var_dir=var_dir,
        platforms=platforms,
    )
