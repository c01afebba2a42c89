"""Configuration errors are one clear line naming the variable."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.errors import ConfigError

WECOM = {
    "WECOM_CORP_ID": "ww123",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "s" * 20,
    "WECOM_TOKEN": "tok",
    "WECOM_AES_KEY": "a" * 43,
}


@pytest.fixture
def base(tmp_path):
    return {"BOT_VAR_DIR": str(tmp_path), "BOT_SECRET_KEY": "k" * 32}


def test_defaults(base):
    config = load_config(base)
    assert config.timezone == "Asia/Shanghai" and config.platforms == {}
    assert config.public_url == "http://127.0.0.1:8000" and not config.is_production


def test_secret_key_is_generated_once(tmp_path):
    first = load_config({"BOT_VAR_DIR": str(tmp_path)}).secret_key
    assert len(first) >= 32
    assert load_config({"BOT_VAR_DIR": str(tmp_path)}).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "env, message",
    [
        ({"BOT_TIMEZONE": "Mars/Base"}, "BOT_TIMEZONE: unknown time zone"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL: unsupported database"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL: not a database URL"),
        ({"BOT_ENV": "prod"}, "BOT_ENV: expected"),
        ({"BOT_API_TOKEN": "short"}, "BOT_API_TOKEN: expected at least 16"),
        ({"BOT_PUBLIC_URL": "example.com"}, "BOT_PUBLIC_URL: expected an http(s) URL"),
        ({**WECOM, "WECOM_AES_KEY": "a" * 42}, "WECOM_AES_KEY: expected 43 characters, got 42"),
        ({**WECOM, "WECOM_SECRET": ""}, "WECOM_SECRET: required when"),
        ({**WECOM, "WECOM_AGENT_ID": "abc"}, "WECOM_AGENT_ID: expected a number"),
        ({"FEISHU_APP_ID": "cli_x"}, "FEISHU_APP_SECRET: required when"),
        (
            {
                "DINGTALK_APP_KEY": "k",
                "DINGTALK_APP_SECRET": "s",
                "DINGTALK_ROBOT_CODE": "r",
                "DINGTALK_TOKEN": "t",
            },
            "DINGTALK_AES_KEY: DINGTALK_TOKEN and DINGTALK_AES_KEY must be set together",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and ":" in v else None,
)
def test_bad_values_fail_with_one_line_naming_the_variable(base, env, message):
    with pytest.raises(ConfigError) as err:
        load_config({**base, **env})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="BOT_SECRET_KEY: required"):
        load_config({"BOT_VAR_DIR": str(tmp_path), "BOT_ENV": "production"})


def test_platform_is_on_when_fully_configured(base):
    config = load_config({**base, **WECOM})
    assert config.platform("wecom")["WECOM_API_BASE"] == "https://qyapi.weixin.qq.com/cgi-bin/"


def test_bad_config_from_cli_is_one_line_without_traceback(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from bot.cli import cli

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_TIMEZONE", "Nowhere/City")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: BOT_TIMEZONE: unknown time zone 'Nowhere/City'"
