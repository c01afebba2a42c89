"""A notice to many people goes out with each platform's batch send, within its per-call
maximum, and every recipient's outcome is still their own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.models import Ask, AskState, Outbox
from bot.notices import broadcasts as notices
from tests.factories import make_crowd

TOKEN = "api-token-0123456789abcdef"


def _broadcast(client: Any, important: bool, text: str = "周六加班安排已发布") -> int:
    response = client.post(
        "/api/v1/broadcasts",
        json={"title": "生产通知", "text": text, "important": important, "to": "all"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _states(session) -> dict[str, int]:
    rows = session.execute(select(Outbox.state, func.count()).group_by(Outbox.state)).all()
    return dict(rows)


class TestWecom:
    @pytest.fixture
    def fake(self) -> Iterator[Any]:
        from tests.fakes.wecom import FakeWecom

        server = FakeWecom().start()
        yield server
        server.stop()

    @pytest.fixture
    def platform_env(self, fake):
        from tests.fakes.wecom import env

        return {**env(fake), "BOT_API_TOKEN": TOKEN}

    def test_read_confirmation_to_1200_members_takes_two_sends(self, client, session, drain, fake):
        make_crowd(session, 1200, "wecom")
        _broadcast(client, important=True)
        drain()
        sends = [r.json() for r in fake.calls("message/send")]
        assert sorted(len(b["touser"].split("|")) for b in sends) == [200, 1000]
        assert all(b["msgtype"] == "template_card" for b in sends)
        assert _states(session) == {"sent": 1200}

    def test_a_member_outside_the_app_fails_alone(self, client, session, drain, fake):
        make_crowd(session, 30, "wecom")
        fake.invalid_users.add("u00007")
        _broadcast(client, important=False)
        drain()
        assert len(fake.calls("message/send")) == 1
        assert _states(session) == {"sent": 29, "dead": 1}
        dead = session.scalars(select(Outbox).where(Outbox.state == "dead")).one()
        assert "invalid user u00007" in dead.last_error

    def test_a_click_updates_only_the_pressers_copy(self, client, session, drain, fake, clock):
        from tests.fakes.wecom import WecomCallbacks

        make_crowd(session, 5, "wecom")
        _broadcast(client, important=True)
        drain()
        card = fake.sent("u00002", "template_card")[-1]["template_card"]
        key = card["button_list"][0]["key"]
        wecom = WecomCallbacks(client, lambda: int(clock.now().timestamp()))
        wecom.click("u00002", card["task_id"], key, response_code="rc-u2")
        wecom.click("u00002", card["task_id"], key, response_code="rc-u2b", created=1)
        drain()
        assert session.scalar(select(func.count()).where(Ask.state == AskState.ANSWERED)) == 1
        updates = fake.updates()
        assert len(updates) == 1
        assert (
            updates[0]["userids"] == ["u00002"] and updates[0]["response_code"] == "rc-u2b"
        )  # the newest
        assert updates[0]["template_card"]["button_list"][0]["text"].startswith("已读")


class TestDingtalk:
    @pytest.fixture
    def fake(self) -> Iterator[Any]:
        from tests.fakes.dingtalk import FakeDingtalk

        server = FakeDingtalk().start()
        yield server
        server.stop()

    @pytest.fixture
    def platform_env(self, fake):
        return {**fake.env(), "BOT_API_TOKEN": TOKEN}

    def test_plain_notice_goes_twenty_users_a_batch_send(self, client, session, drain, fake):
        from tests.fakes.dingtalk import BATCH_SEND

        make_crowd(session, 45, "dingtalk")
        _broadcast(client, important=False)
        drain()
        sends = [r.json() for r in fake.server.calls(BATCH_SEND)]
        assert sorted(len(b["userIds"]) for b in sends) == [5, 20, 20]
        assert fake.texts_to("u00044") == ["📢 生产通知\n周六加班安排已发布"]
        assert _states(session) == {"sent": 45}

    def test_read_confirmation_is_one_interactive_card_each(self, client, session, drain, fake):
        from tests.fakes.dingtalk import CARD_SEND

        make_crowd(session, 3, "dingtalk")
        _broadcast(client, important=True)
        drain()
        assert len(fake.server.calls(CARD_SEND)) == 3


class TestFeishu:
    @pytest.fixture
    def fake(self) -> Iterator[Any]:
        from tests.fakes.feishu import FakeFeishu

        server = FakeFeishu().start()
        yield server
        server.stop()

    @pytest.fixture
    def platform_env(self, fake):
        return {
            "FEISHU_APP_ID": "cli_batch_app", "FEISHU_APP_SECRET": "s",
            "FEISHU_VERIFICATION_TOKEN": "t", "FEISHU_DOMAIN": fake.url, "BOT_API_TOKEN": TOKEN,
        }  # fmt: skip

    def test_plain_notice_goes_two_hundred_users_a_batch(self, client, session, drain, fake):
        from tests.fakes.feishu import BATCH_PATH

        make_crowd(session, 250, "feishu", prefix="ou_")
        _broadcast(client, important=False)
        drain()
        sends = [r.json() for r in fake.calls(BATCH_PATH)]
        assert sorted(len(b["open_ids"]) for b in sends) == [50, 200]
        assert fake.texts("ou_00249") == ["📢 生产通知\n周六加班安排已发布"]
        assert _states(session) == {"sent": 250}

    def test_read_confirmation_cards_go_one_by_one_so_they_can_be_patched(
        self, client, session, drain, fake
    ):
        from tests.fakes.feishu import BATCH_PATH

        make_crowd(session, 3, "feishu", prefix="ou_")
        _broadcast(client, important=True)
        drain()
        assert fake.calls(BATCH_PATH) == []
        assert fake.last_card("ou_00001").title.startswith("📢 重要通知")
        assert notices.READ_LABEL
