"""The Feishu driver: encrypted, signed events and card.action.trigger callbacks in (FeishuEvents),
the fake's messages and their PATCHed versions read back as what each user sees."""

from __future__ import annotations

import html
import itertools
from typing import Any

from sqlalchemy.orm import Session

from adapters.feishu.inbound import CARD_ACK
from bot.clock import Clock
from bot.models import Employee, Identity
from tests.drivers import Delivered, Driver, SeenCard
from tests.fakes.feishu import FakeFeishu, FeishuEvents, SentMessage

APP_ID = "cli_scenario_app"
TOKEN = "scenario-verification-token"
ENCRYPT_KEY = "scenario-encrypt-key"

_ids = itertools.count(1)


def env(fake: FakeFeishu) -> dict[str, str]:
    """The FEISHU_* variables pointing the adapter at `fake`."""
    return {
        "FEISHU_APP_ID": APP_ID,
        "FEISHU_APP_SECRET": "scenario-app-secret",
        "FEISHU_VERIFICATION_TOKEN": TOKEN,
        "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU_DOMAIN": fake.url,
    }


class FeishuDriver(Driver):
    """Users are open_ids; cards are JSON 2.0 messages updated by PATCH; a refused click is
    answered on the spot with an error toast."""

    platform = "feishu"

    def __init__(self, fake: FakeFeishu, client: Any, clock: Clock):
        super().__init__()
        self.fake = fake
        self.events = FeishuEvents(
            client, clock, token=TOKEN, encrypt_key=ENCRYPT_KEY, app_id=APP_ID
        )

    def enroll(self, session: Session, employee: Employee) -> str:
        uid = f"ou_{employee.id}"
        session.add(Identity(employee=employee, platform=self.platform, external_id=uid))
        session.commit()
        return uid

    def stranger(self, session: Session) -> str:
        return "ou_stranger01"

    def say(self, uid: str, text: str, *, times: int = 1) -> None:
        n = next(_ids)
        for _ in range(times):
            resp = self.events.text(uid, text, event_id=f"ev_scn{n}", message_id=f"om_scn{n}")
            assert (resp.status_code, resp.json) == (200, {})

    def send_photo(self, uid: str, data: bytes) -> None:
        n = next(_ids)
        message_id, image_key = f"om_img_scn{n}", f"img_in_scn{n}"
        self.fake.serve_resource(message_id, image_key, data)
        resp = self.events.image(uid, image_key, message_id)
        assert (resp.status_code, resp.json) == (200, {})

    def press(self, uid: str, card: SeenCard, label_prefix: str, *, times: int = 1) -> None:
        event_id = f"ev_click_scn{next(_ids)}"
        for _ in range(times):
            resp = self.events.click(uid, card.value(label_prefix), card.ref, event_id=event_id)
            assert resp.status_code == 200
            if resp.json != CARD_ACK:
                toast = resp.json["toast"]
                assert toast["type"] == "error", resp.json
                self.toasts[uid].append(toast["content"])

    def received(self, uid: str) -> list[Delivered]:
        out: list[Delivered] = []
        for message in self.fake.to(uid):
            if message.msg_type == "text":
                out.append(Delivered("text", message.text))
            elif message.msg_type == "interactive":
                card = self._seen(message)
                out.append(Delivered("card", card.text, card))
            else:
                out.append(Delivered(message.msg_type))
        return out

    def _seen(self, message: SentMessage) -> SeenCard:
        current = message.current
        elements = current["body"]["elements"]
        markdown = [
            e["content"] for e in elements if e["tag"] == "markdown" and "text_size" not in e
        ]
        # Field rows are the one block of bold labels; a decided card (header no longer blue)
        # ends with its status line.
        fields = [m for m in markdown if m.startswith("**")]
        status = None
        if current["header"]["template"] != "blue":
            status = html.unescape(markdown.pop())
        lines = [html.unescape(m) for m in markdown if m not in fields]
        values: dict[str, Any] = {}
        for element in elements:
            for column in element.get("columns", []):
                for button in column["elements"]:
                    values[button["text"]["content"]] = button["behaviors"][0]["value"]
        images = [e["img_key"] for e in elements if e["tag"] == "img"]
        return SeenCard(
            title=message.title,
            lines=tuple(lines),
            fields=tuple(
                html.unescape(row.split("**")[1]) for block in fields for row in block.split("\n")
            ),
            values=values,
            status=status,
            photo=self.fake.images.get(images[0]) if images else None,
            ref=message.message_id,
        )

    def updates(self, card: SeenCard) -> int:
        (message,) = [m for m in self.fake.messages if m.message_id == card.ref]
        return len(message.patches)
