"""The driver for `teamchat`, the fifth platform defined inside tests/ (tests/teamchat/): signed
callbacks in, the fake's posts and their updates read back as what each user sees."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.models import Employee, Identity
from tests.drivers import Delivered, Driver, SeenCard
from tests.fakes.teamchat import FakeTeamchat, Posted, post_event

_ids = itertools.count(1)


class TeamchatDriver(Driver):
    """Users are teamchat user ids; cards are posts whose blocks chat.update replaces."""

    platform = "teamchat"

    def __init__(self, fake: FakeTeamchat, client: Any, clock: Clock):
        super().__init__()
        self.fake = fake
        self.client = client
        self.clock = clock

    def enroll(self, session: Session, employee: Employee) -> str:
        uid = f"TU{employee.id}"
        session.add(Identity(employee=employee, platform=self.platform, external_id=uid))
        session.commit()
        return uid

    def _post(self, payload: dict[str, Any], times: int = 1) -> None:
        for _ in range(times):
            resp = post_event(self.client, payload, int(self.clock.now().timestamp()))
            assert (resp.status_code, resp.json) == (200, {})

    def say(self, uid: str, text: str, *, times: int = 1) -> None:
        event = {"type": "message", "event_id": f"E{next(_ids)}", "user": uid, "text": text}
        self._post(event, times)

    def send_photo(self, uid: str, data: bytes) -> None:
        file_id = f"UF{next(_ids)}"
        self.fake.files[file_id] = data
        event_id = f"E{next(_ids)}"
        self._post(
            {"type": "message", "event_id": event_id, "user": uid, "files": [{"id": file_id}]}
        )

    def press(self, uid: str, card: SeenCard, label_prefix: str, *, times: int = 1) -> None:
        event = {
            "type": "block_action",
            "event_id": f"E{next(_ids)}",
            "user": uid,
            "message_id": card.ref,
            "value": card.value(label_prefix),
        }
        self._post(event, times)

    def received(self, uid: str) -> list[Delivered]:
        out: list[Delivered] = []
        for message in self.fake.to(uid):
            if "blocks" in message.body:
                card = self._seen(message)
                out.append(Delivered("card", card.text, card))
            else:
                out.append(Delivered("text", message.body["text"]))
        return out

    def _seen(self, message: Posted) -> SeenCard:
        blocks = message.current["blocks"]
        by_type: dict[str, list[dict[str, Any]]] = {}
        for block in blocks:
            by_type.setdefault(block["type"], []).append(block)
        images = by_type.get("image", [])
        return SeenCard(
            title=by_type["header"][0]["text"],
            lines=tuple(b["text"] for b in by_type.get("section", [])),
            fields=tuple(f["label"] for b in by_type.get("fields", []) for f in b["fields"]),
            values={
                button["label"]: button["value"]
                for b in by_type.get("actions", [])
                for button in b["buttons"]
            },
            status=by_type["status"][0]["text"] if "status" in by_type else None,
            photo=self.fake.uploads.get(images[0]["file_id"]) if images else None,
            ref=message.message_id,
        )

    def updates(self, card: SeenCard) -> int:
        (message,) = [m for m in self.fake.messages if m.message_id == card.ref]
        return len(message.versions)
