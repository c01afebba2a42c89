"""The change flow on every platform's fake (design §13): callbacks built as each platform builds
them, the real clients out to the fake Open APIs. Accept → retest → compensation; negotiate →
the author answers; reject → the supervisor is told; a click by someone else is refused; every
copy of a card shows the outcome."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.models import AckDecision, ChangeAck, ChangeRetest, Identity, LedgerEntry
from bot.notices import changes as notices
from bot.services.ledger import balance
from bot.signing import NOT_YOUR_BUTTON
from tests.change_support import (
    IMPACT_TITLE,
    NEGOTIATION_TITLE,
    RETEST_TITLE,
    TOKEN,
    change_body,
    impact,
    make_plant,
    post_change,
)
from tests.fakes import dingtalk as dt
from tests.fakes import feishu as fs
from tests.fakes import wecom as wc

TITLE = "B 3号模具冲头尺寸变更"
ROLES = ("boss", "zhang", "liu", "engineer", "hr")
_codes = itertools.count(1)


class Wecom:
    """Drives WeCom: encrypted callbacks in, template cards and their updates out."""

    def __init__(self, client: Any, clock: Any, fake: wc.FakeWecom):
        self.fake = fake
        self.callbacks = wc.WecomCallbacks(client, lambda: int(clock.now().timestamp()))

    def card(self, user: str, title: str) -> dict[str, Any]:
        """The newest card titled `title…` as the user sees it now (after updates)."""
        for card in reversed(self.fake.cards(user)):
            if card["main_title"]["title"].startswith(title):
                updates = [u["template_card"] for u in self.fake.updates()
                           if u["template_card"]["task_id"] == card["task_id"]]  # fmt: skip
                return updates[-1] if updates else card
        raise AssertionError(f"no card {title!r} sent to {user}")

    def labels(self, user: str, title: str) -> list[str]:
        card = self.card(user, title)
        return [] if "replace_text" in card else [b["text"] for b in card["button_list"]]

    def status(self, user: str, title: str) -> str:
        # A decided card keeps one greyed-out button whose text is the outcome word.
        return self.card(user, title).get("replace_text", "")

    def press(self, user: str, title: str, label: str, *, owner: str | None = None) -> None:
        card = self.card(owner or user, title)
        key = next(b["key"] for b in card["button_list"] if b["text"].startswith(label))
        self.callbacks.click(user, card["task_id"], key, f"rc-{next(_codes)}")

    def say(self, user: str, text: str) -> None:
        self.callbacks.text(user, text)

    def texts(self, user: str) -> list[str]:
        return self.fake.texts(user)


class Dingtalk:
    """Drives DingTalk: signed robot and card callbacks in, robot cards and updates out."""

    def __init__(self, client: Any, clock: Any, fake: dt.FakeDingtalk):
        self.client, self.clock, self.fake = client, clock, fake

    def _sent(self, user: str, title: str) -> dict[str, Any]:
        for card in reversed(self.fake.cards_to(user)):
            if dt.card_title(card["cardData"]).startswith(title):
                return card
        raise AssertionError(f"no card {title!r} sent to {user}")

    def card(self, user: str, title: str) -> dict[str, Any]:
        sent = self._sent(user, title)
        updates = self.fake.card_updates(sent["cardBizId"])
        return updates[-1] if updates else sent["cardData"]

    def labels(self, user: str, title: str) -> list[str]:
        return list(dt.card_buttons(self.card(user, title)))

    def status(self, user: str, title: str) -> str:
        """The outcome line of a decided card (its first word on WeCom)."""
        card = self.card(user, title)
        return next((c["text"] for c in card["contents"] if c.get("id") == "status"), "")

    def press(self, user: str, title: str, label: str, *, owner: str | None = None) -> None:
        sent = self._sent(owner or user, title)
        value = dt.button_value(self.card(owner or user, title), label)
        dt.post_card(self.client, self.clock.now(), dt.card_click(sent["cardBizId"], user, value))

    def say(self, user: str, text: str) -> None:
        dt.post_robot(self.client, self.clock.now(), dt.robot_message(user, text=text))

    def texts(self, user: str) -> list[str]:
        return self.fake.texts_to(user)


class Feishu:
    """Drives Feishu: encrypted, signed events in, interactive cards and their patches out."""

    def __init__(self, client: Any, clock: Any, fake: fs.FakeFeishu):
        self.fake = fake
        self.events = fs.FeishuEvents(client, clock, token=FEISHU_TOKEN,
                                      encrypt_key=FEISHU_KEY, app_id=FEISHU_APP)  # fmt: skip

    def labels(self, user: str, title: str) -> list[str]:
        card = self.fake.last_card(user, title).current
        return [b["text"]["content"] for e in card["body"]["elements"]
                for col in e.get("columns", []) for b in col.get("elements", [])
                if b.get("tag") == "button"]  # fmt: skip

    def status(self, user: str, title: str) -> str:
        elements = self.fake.last_card(user, title).current["body"]["elements"]
        texts = [e["content"] for e in elements
                 if e.get("tag") == "markdown" and e.get("text_size") != "notation"]  # fmt: skip
        return next((t for t in reversed(texts) if " · " in t), "")

    def press(self, user: str, title: str, label: str, *, owner: str | None = None) -> Any:
        return self.events.press(user, self.fake.last_card(owner or user, title), label)

    def say(self, user: str, text: str) -> None:
        self.events.text(user, text)

    def texts(self, user: str) -> list[str]:
        return self.fake.texts(user)


FEISHU_APP, FEISHU_TOKEN, FEISHU_KEY = "cli_changes", "verification-token-c", "encrypt-key-c"
FAKES = {
    "wecom": (wc.FakeWecom, lambda f: wc.env(f), Wecom),
    "dingtalk": (dt.FakeDingtalk, lambda f: f.env(), Dingtalk),
    "feishu": (fs.FakeFeishu, lambda f: {
        "FEISHU_APP_ID": FEISHU_APP, "FEISHU_APP_SECRET": "secret",
        "FEISHU_VERIFICATION_TOKEN": FEISHU_TOKEN, "FEISHU_ENCRYPT_KEY": FEISHU_KEY,
        "FEISHU_DOMAIN": f.url}, Feishu),
}  # fmt: skip


@pytest.fixture(params=sorted(FAKES))
def platform(request) -> str:
    return request.param


@pytest.fixture
def fake(platform) -> Iterator[Any]:
    server = FAKES[platform][0]().start()
    yield server
    server.stop()


@pytest.fixture
def platform_env(platform, fake) -> dict[str, str]:
    return {**FAKES[platform][1](fake), "BOT_API_TOKEN": TOKEN}


@pytest.fixture
def chat(platform, fake, client, clock) -> Any:
    return FAKES[platform][2](client, clock, fake)


@pytest.fixture
def step(drain, clock) -> Any:
    """A few seconds pass between two taps (Feishu paces 5 messages a second per person, and
    a tap can bring that many), then the worker catches up."""

    def _step() -> None:
        clock.advance(seconds=2)
        drain()

    return _step


@pytest.fixture
def plant(platform, session) -> dict[str, Any]:
    """The plant's people, each with an id on the platform under test (`ids`)."""
    people = make_plant(session)
    ids = {role: f"{platform[:2]}-{role}" for role in ROLES}
    for role in ROLES:
        session.add(Identity(employee=people[role], platform=platform, external_id=ids[role]))
    session.commit()
    return {**people, "ids": ids}


def _announce(client, step, plant, *owners):
    body = change_body(plant["engineer"], *[impact(owner=plant[o]) for o in owners or ("zhang",)])
    assert post_change(client, body).status_code == 201
    step()


def test_accept_then_a_reported_retest_credits_the_compensation(client, session, step, plant, chat):
    zhang = plant["ids"]["zhang"]
    _announce(client, step, plant)
    assert chat.labels(zhang, IMPACT_TITLE) == ["接受", "需协商", "拒绝"]
    chat.press(zhang, IMPACT_TITLE, "接受")
    step()
    assert chat.status(zhang, IMPACT_TITLE).startswith("已接受")
    assert notices.ACCEPTED.format(title=TITLE, due="12-04 00:00") in chat.texts(zhang)
    chat.press(zhang, RETEST_TITLE, "提交重测报告")
    step()
    chat.say(zhang, "首件尺寸 12.05，合格")
    step()
    assert chat.labels(zhang, RETEST_TITLE) == ["通过", "不通过"]
    chat.press(zhang, RETEST_TITLE, "通过")
    step()
    session.commit()
    assert balance(session, plant["zhang"].id) == 5
    entry = session.scalars(select(LedgerEntry)).one()
    assert entry.category == "变更"
    assert session.scalars(select(ChangeRetest)).one().ledger_entry_id == entry.id
    assert chat.texts(zhang)[-1] == notices.RETEST_CREDITED.format(result="通过", points=5,
                                                                   balance=5)  # fmt: skip
    assert chat.status(zhang, RETEST_TITLE).startswith("重测通过")


def test_negotiate_reaches_the_author_whose_answer_returns_to_the_owner(
    client, session, step, plant, chat
):
    zhang, engineer = plant["ids"]["zhang"], plant["ids"]["engineer"]
    _announce(client, step, plant)
    chat.press(zhang, IMPACT_TITLE, "需协商")
    step()
    chat.say(zhang, "工时不足，需要 4 小时")
    step()
    assert chat.labels(engineer, NEGOTIATION_TITLE) == ["同意调整", "维持原方案"]
    chat.press(engineer, NEGOTIATION_TITLE, "同意调整")
    step()
    chat.say(engineer, "按 4 小时计")
    step()
    assert chat.status(engineer, NEGOTIATION_TITLE).startswith("同意调整")
    assert chat.labels(zhang, IMPACT_TITLE) == ["接受", "拒绝"]
    chat.press(zhang, IMPACT_TITLE, "接受")
    step()
    session.commit()
    assert session.scalars(select(ChangeAck)).one().decision == AckDecision.ACCEPTED


def test_reject_tells_the_author_and_the_supervisor(client, session, step, plant, chat):
    zhang, boss = plant["ids"]["zhang"], plant["ids"]["boss"]
    _announce(client, step, plant, "zhang", "liu")
    chat.press(zhang, IMPACT_TITLE, "拒绝")
    step()
    chat.say(zhang, "技术上不可行")
    step()
    values = {"owner": plant["zhang"].name, "version": "B", "title": "3号模具冲头尺寸变更",
              "reason": "技术上不可行", "author": plant["engineer"].name}  # fmt: skip
    assert chat.texts(boss) == [notices.TO_SUPERVISOR_REJECTED.format(**values)]
    assert notices.TO_AUTHOR_REJECTED.format(**values) in chat.texts(plant["ids"]["engineer"])
    assert chat.status(zhang, IMPACT_TITLE).startswith("已拒绝")


def test_a_click_by_someone_else_is_refused(client, session, step, plant, chat, platform):
    zhang, liu = plant["ids"]["zhang"], plant["ids"]["liu"]
    _announce(client, step, plant)
    answer = chat.press(liu, IMPACT_TITLE, "接受", owner=zhang)
    step()
    if platform == "feishu":  # refused on the spot, with a toast (platforms.md §5)
        assert answer.json == {"toast": {"type": "error", "content": NOT_YOUR_BUTTON}}
    else:
        assert chat.texts(liu) == [NOT_YOUR_BUTTON]
    session.commit()
    assert session.scalars(select(ChangeAck)).one().decision == AckDecision.PENDING
    assert chat.labels(zhang, IMPACT_TITLE) == ["接受", "需协商", "拒绝"]


def test_the_summary_reaches_the_author_on_the_platform(client, step, plant, chat, platform):
    _announce(client, step, plant)
    engineer = plant["ids"]["engineer"]
    if platform == "wecom":  # a card without buttons is markdown on WeCom
        [summary] = chat.fake.sent(engineer, "markdown")
        assert summary["markdown"]["content"].startswith(f"**变更进度 · {TITLE}**")
    elif platform == "dingtalk":
        assert dt.card_texts(chat.card(engineer, "变更进度"))[0].startswith("确认 0/1")
    else:
        assert json.dumps(chat.fake.last_card(engineer, "变更进度").current, ensure_ascii=False)
