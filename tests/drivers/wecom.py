"""The WeCom driver: encrypted, signed callbacks in (WecomCallbacks), the fake's message/send and
update_template_card bodies read back as what each member sees."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from adapters.wecom.render import DONE_KEY
from bot.clock import Clock
from bot.models import Employee, Identity
from tests.drivers import Delivered, Driver, SeenCard
from tests.fakes.wecom import FakeWecom, WecomCallbacks

_msg_ids = itertools.count(8_100_000_000_000_000_001)


class WecomDriver(Driver):
    """Members are WeCom userids; cards are template_cards updated by response_code."""

    platform = "wecom"

    def __init__(self, fake: FakeWecom, client: Any, clock: Clock):
        super().__init__()
        self.fake = fake
        self.clock = clock
        self.callbacks = WecomCallbacks(client, lambda: int(clock.now().timestamp()))
        self._codes = itertools.count(1)
        self._media = itertools.count(1)

    def enroll(self, session: Session, employee: Employee) -> str:
        uid = f"wx{employee.id}"
        session.add(Identity(employee=employee, platform=self.platform, external_id=uid))
        session.commit()
        return uid

    def say(self, uid: str, text: str, *, times: int = 1) -> None:
        msg_id = next(_msg_ids)
        for _ in range(times):
            resp = self.callbacks.text(uid, text, msg_id=msg_id)
            assert (resp.status_code, resp.data) == (200, b"")

    def send_photo(self, uid: str, data: bytes) -> None:
        media_id = f"MEDIA_{next(self._media)}"
        self.fake.media[media_id] = data
        resp = self.callbacks.image(uid, media_id)
        assert (resp.status_code, resp.data) == (200, b"")

    def press(self, uid: str, card: SeenCard, label_prefix: str, *, times: int = 1) -> None:
        # A redelivered click repeats CreateTime and ResponseCode; a new click has its own code.
        code = f"rc-{next(self._codes)}"
        created = int(self.clock.now().timestamp())
        task_id = card.ref[0]
        for _ in range(times):
            resp = self.callbacks.click(
                uid, task_id, card.value(label_prefix), code, created=created
            )
            assert (resp.status_code, resp.data) == (200, b"")

    def received(self, uid: str) -> list[Delivered]:
        out: list[Delivered] = []
        photo: bytes | None = None
        for body in self.fake.sent(uid):
            kind = body["msgtype"]
            if kind == "image":
                # The adapter sends a card's photo as its own message right before the card.
                photo = self.fake.uploads.get(body["image"]["media_id"])
                out.append(Delivered("image"))
                continue
            if kind == "text":
                out.append(Delivered("text", body["text"]["content"]))
            elif kind == "markdown":
                out.append(_markdown(body["markdown"]["content"], photo))
            elif kind == "template_card":
                card = self._seen(uid, body["template_card"], photo)
                out.append(Delivered("card", card.text, card))
            photo = None
        return out

    def _seen(self, uid: str, sent: dict[str, Any], photo: bytes | None) -> SeenCard:
        task_id = sent["task_id"]
        current = sent
        for update in self.fake.updates():
            if update["template_card"]["task_id"] == task_id and update["userids"] == [uid]:
                current = update["template_card"]
        sub = current["sub_title_text"].split("\n") if current.get("sub_title_text") else []
        lines, status = sub, None
        if current.get("replace_text"):
            # A decided card appends its status to the subtitle and greys out its one button,
            # whose text (replace_text) is the status's first words, clipped.
            word = current["replace_text"].rstrip("…")
            at = next((i for i, line in enumerate(sub) if line.startswith(word)), None)
            assert at is not None, f"status {word!r} not in the subtitle: {sub}"
            lines, status = sub[:at], "\n".join(sub[at:])
        return SeenCard(
            title=current["main_title"]["title"],
            lines=tuple(lines),
            fields=tuple(r["keyname"] for r in current.get("horizontal_content_list", [])),
            values={b["text"]: b["key"] for b in current["button_list"] if b["key"] != DONE_KEY},
            status=status,
            photo=photo,
            ref=(task_id, uid),
        )

    def updates(self, card: SeenCard) -> int:
        task_id, uid = card.ref
        return sum(
            1
            for u in self.fake.updates()
            if u["template_card"]["task_id"] == task_id and u["userids"] == [uid]
        )


def _markdown(content: str, photo: bytes | None = None) -> Delivered:
    """A card without buttons, sent as markdown: **title** then its lines (its photo, if it
    has one, went out as an image message right before)."""
    title, *lines = content.split("\n")
    card = SeenCard(title=title.strip("*"), lines=tuple(lines), photo=photo)
    return Delivered("card", card.text, card)
