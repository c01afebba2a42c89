"""The DingTalk driver: signed robot messages and card callbacks in, the fake's batchSend texts and
StandardCard sends and updates read back as what each staff member sees."""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import Employee, Identity
from tests.drivers import Delivered, Driver, SeenCard
from tests.fakes.dingtalk import (
    BATCH_SEND,
    CARD_SEND,
    FakeDingtalk,
    card_buttons,
    card_click,
    card_title,
    post_card,
    post_robot,
    robot_message,
)

_ids = itertools.count(1)


class DingtalkDriver(Driver):
    """Staff are DingTalk staff ids; cards are robot StandardCards updated by outTrackId."""

    platform = "dingtalk"

    def __init__(self, fake: FakeDingtalk, client: Any, clock: Clock):
        super().__init__()
        self.fake = fake
        self.client = client
        self.clock = clock

    def enroll(self, session: Session, employee: Employee) -> str:
        uid = f"staff{employee.id}"
        session.add(Identity(employee=employee, platform=self.platform, external_id=uid))
        session.commit()
        return uid

    def _post(self, body: dict[str, Any], times: int) -> None:
        for _ in range(times):
            resp = post_robot(self.client, self.clock.now(), body)
            assert (resp.status_code, resp.json) == (200, {})

    def say(self, uid: str, text: str, *, times: int = 1) -> None:
        self._post(robot_message(uid, text=text, msg_id=f"scn-msg{next(_ids)}"), times)

    def send_photo(self, uid: str, data: bytes) -> None:
        code = f"dl-{uid}-{next(_ids)}"
        self.fake.add_file(code, data)
        self._post(robot_message(uid, download_code=code), 1)

    def press(self, uid: str, card: SeenCard, label_prefix: str, *, times: int = 1) -> None:
        body = card_click(card.ref, uid, card.value(label_prefix))
        for _ in range(times):
            resp = post_card(self.client, self.clock.now(), body)
            assert (resp.status_code, resp.json) == (200, {})

    def received(self, uid: str) -> list[Delivered]:
        out: list[Delivered] = []
        for path, body in self.fake.delivered:
            if path == BATCH_SEND and uid in body["userIds"]:
                assert body["msgKey"] == "sampleText", body["msgKey"]
                out.append(Delivered("text", json.loads(body["msgParam"])["content"]))
            elif path == CARD_SEND:
                receiver = json.loads(body.get("singleChatReceiver") or "{}")
                if receiver.get("userId") == uid:
                    card = self._seen(body)
                    out.append(Delivered("card", card.text, card))
        return out

    def _seen(self, sent: dict[str, Any]) -> SeenCard:
        updates = self.fake.card_updates(sent["cardBizId"])
        data = updates[-1] if updates else json.loads(sent["cardData"])
        by_id = {c.get("id", ""): c for c in data["contents"]}
        image = by_id.get("image")
        return SeenCard(
            title=card_title(data),
            lines=tuple(c["text"] for key, c in by_id.items() if key.startswith("line_")),
            fields=tuple(
                c["text"].split("：", 1)[0] for key, c in by_id.items() if key.startswith("field_")
            ),
            values=card_buttons(data),
            status=by_id["status"]["text"] if "status" in by_id else None,
            photo=self.fake.uploads.get(image["image"]) if image else None,
            ref=sent["cardBizId"],
        )

    def updates(self, card: SeenCard) -> int:
        return len(self.fake.card_updates(card.ref))
