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
from bot.platforms import PLATFORMS, PlatformSpec


@dataclass(frozen=True)
class Config:
    """Validated settings; build with `load_config(os.environ)`."""

    database_url: str = "sqlite:///var/bot.db"
    media_dir: Path = Path("var/media")
    secret_key: str = ""
    # Keys the ledger's hash chain and signs its checkpoints; never shown (repr) or logged.
    ledger_key: str = field(default="", repr=False)
    ledger_checkpoint_dir: Path = Path("var/ledger-checkpoints")
    timezone: str = "Asia/Shanghai"
    api_token: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    env: str = "development"
    var_dir: Path = Path("var")
    second_approval_points: int = 20
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


def _read_secret_key(var_dir: Path, name: str = "secret_key") -> str:
    """Read var/<name>, creating it (0600) with a fresh random key on first use.

    Two processes starting at once both end up with the file's one key: the key is written to
    a private temporary file and linked into place, which fails if the other got there first.
    """
    path = var_dir / name
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = var_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _ledger_key(env: Mapping[str, str], bot_env: str, var_dir: Path, secret_key: str) -> str:
    """BOT_LEDGER_KEY, or in development the key generated once into var/ledger_key.

    Raises:
        ConfigError: missing in production, too short, or the same as BOT_SECRET_KEY.
    """
    key = env.get("BOT_LEDGER_KEY") or ""
    if not key:
        if bot_env == "production":
            raise ConfigError("BOT_LEDGER_KEY: required when BOT_ENV=production")
        key = _read_secret_key(var_dir, "ledger_key")
        if len(key) < 32:
            raise ConfigError(
                f"BOT_LEDGER_KEY: {var_dir / 'ledger_key'} holds {len(key)} characters; "
                "restore it from your backup (the ledger was keyed with it)"
            )
    if len(key) < 32:
        raise ConfigError(f"BOT_LEDGER_KEY: expected at least 32 characters, got {len(key)}")
    if key == secret_key:
        raise ConfigError("BOT_LEDGER_KEY: must differ from BOT_SECRET_KEY")
    return key


def _check_platform(spec: PlatformSpec, env: Mapping[str, str]) -> dict[str, str] | None:
    """The values of a platform whose variables are set; None when it is off.

    Raises:
        ConfigError: half configured (a required variable missing) or a bad value.
    """
    required, optional = spec.required_env, spec.optional_env
    if not any(env.get(v) for v in required):
        return None
    missing = [v for v in required if not env.get(v)]
    if missing:
        set_ = ", ".join(v for v in required if env.get(v))
        raise ConfigError(
            f"{missing[0]}: required when {set_} is set ({spec.name} is half configured)"
        )
    values = {v: env.get(v) or spec.defaults.get(v, "") for v in required + optional}
    if spec.check is not None:
        spec.check(values)
    return values


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """An optional positive integer variable. Raises ConfigError naming it."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {raw!r}")
    return int(raw)


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
    ledger_key = _ledger_key(env, bot_env, var_dir, secret_key)
    public_url = (env.get("BOT_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"BOT_PUBLIC_URL: expected an http(s) URL, got {public_url!r}")
    api_token = env.get("BOT_API_TOKEN") or None
    if api_token is not None and len(api_token) < 16:
        raise ConfigError(f"BOT_API_TOKEN: expected at least 16 characters, got {len(api_token)}")
    second_approval_points = _positive_int(env, "BOT_SECOND_APPROVAL_POINTS", 20)
    platforms = {}
    for spec in PLATFORMS.values():
        values = _check_platform(spec, env)
        if values is not None:
            platforms[spec.name] = values
    return Config(
        database_url=database_url,
        media_dir=Path(env.get("BOT_MEDIA_DIR") or var_dir / "media"),
        secret_key=secret_key,
        ledger_key=ledger_key,
        ledger_checkpoint_dir=Path(
            env.get("BOT_LEDGER_CHECKPOINT_DIR") or var_dir / "ledger-checkpoints"
        ),
        timezone=timezone,
        api_token=api_token,
        public_url=public_url,
        env=bot_env,
        var_dir=var_dir,
        second_approval_points=second_approval_points,
        platforms=platforms,
    )
