"""Fixtures that run a test module over every platform through its driver (the pattern of
tests/test_scenarios.py, for feature modules): import `platform`, `fake` and `driver` into the
module and define `platform_env` with `env_for(platform, fake)` plus what the feature needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.drivers import Driver
from tests.drivers.dingtalk import DingtalkDriver
from tests.drivers.feishu import FeishuDriver
from tests.drivers.feishu import env as feishu_env
from tests.drivers.local import LocalDriver
from tests.drivers.wecom import WecomDriver
from tests.fakes.dingtalk import FakeDingtalk
from tests.fakes.feishu import FakeFeishu
from tests.fakes.wecom import FakeWecom
from tests.fakes.wecom import env as wecom_env

PLATFORMS = ("wecom", "dingtalk", "feishu", "local")
FAKES: dict[str, Any] = {"wecom": FakeWecom, "dingtalk": FakeDingtalk, "feishu": FakeFeishu}


@pytest.fixture(params=PLATFORMS)
def platform(request: pytest.FixtureRequest) -> str:
    """The platform this run goes through."""
    return request.param


@pytest.fixture
def fake(platform: str) -> Iterator[Any]:
    """The platform's fake Open API on 127.0.0.1 (None for the local chat)."""
    if platform not in FAKES:
        yield None
        return
    server = FAKES[platform]().start()
    yield server
    server.stop()


def env_for(platform: str, fake: Any) -> dict[str, str]:
    """The variables that switch the platform's adapter on, pointed at its fake."""
    return {
        "wecom": lambda: wecom_env(fake),
        "dingtalk": lambda: fake.env(),
        "feishu": lambda: feishu_env(fake),
        "local": dict,
    }[platform]()


@pytest.fixture
def driver(platform: str, fake: Any, client: Any, clock: Any, session: Session) -> Driver:
    """The platform's driver."""
    if platform == "local":
        return LocalDriver(client, session)
    return {"wecom": WecomDriver, "dingtalk": DingtalkDriver, "feishu": FeishuDriver}[platform](
        fake, client, clock
    )
