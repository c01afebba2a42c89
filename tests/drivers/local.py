"""The local web chat driver: the page's own routes in (tests/localchat.py), the chat's rows and
the page's photo route read back as what each employee sees."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import CardCopy, Employee, LocalMessage
from cards import Button, Card, Text, message_from_dict
from tests.drivers import Delivered, Driver, SeenCard
from tests.factories import make_employee
from tests.localchat import press, say, send_photo

_ids = itertools.count(1)


class LocalDriver(Driver):
    """People are employee numbers (the page's picker); cards are rows rewritten in place."""

    platform = "local"

    def __init__(self, client: Any, session: Session):
        super().__init__()
        self.client = client
        self.session = session

    def enroll(self, session: Session, employee: Employee) -> str:
        return employee.employee_no

    def stranger(self, session: Session) -> str:
        # The page offers only people on file; the one sender it cannot serve is someone who
        # has left (deactivated by HR), whose open page still posts.
        return make_employee(session, name="离职员工", active=False).employee_no

    def say(self, uid: str, text: str, *, times: int = 1) -> None:
        client_id = f"scn-say{next(_ids)}"
        for i in range(times):
            resp = say(self.client, uid, text, client_id=client_id)
            _check(resp, first=i == 0)

    def send_photo(self, uid: str, data: bytes) -> None:
        assert send_photo(self.client, uid, data).status_code == 202

    def press(self, uid: str, card: SeenCard, label_prefix: str, *, times: int = 1) -> None:
        label = next(b for b in card.buttons if b.startswith(label_prefix))
        client_id = f"scn-press{next(_ids)}"
        for i in range(times):
            resp = press(self.client, uid, Button(label, card.values[label]), client_id=client_id)
            _check(resp, first=i == 0)

    def received(self, uid: str) -> list[Delivered]:
        rows = self.session.scalars(
            select(LocalMessage)
            .join(Employee, Employee.id == LocalMessage.employee_id)
            .where(Employee.employee_no == uid, LocalMessage.direction == "out")
            .order_by(LocalMessage.id)
        )
        out: list[Delivered] = []
        for row in rows:
            message = message_from_dict(row.body)
            if isinstance(message, Text):
                out.append(Delivered("text", message.text))
            else:
                card = self._seen(row.id, message)
                out.append(Delivered("card", card.text, card))
        return out

    def _seen(self, row_id: int, card: Card) -> SeenCard:
        photo = None
        if card.image and card.image.startswith(("evidence:", "media:")):
            # What the page's <img> loads: an evidence photo, or a generated image.
            scheme, ref = card.image.split(":", 1)
            route = "media" if scheme == "evidence" else "files"
            resp = self.client.get(f"/local/{route}/{ref}")
            assert resp.status_code == 200
            photo = resp.data
            resp.close()
        return SeenCard(
            title=card.title,
            lines=card.lines,
            fields=tuple(f.label for f in card.fields),
            values={} if card.status else {b.label: b.value for b in card.buttons},
            status=card.status,
            photo=photo,
            ref=(row_id, card.key),
        )

    def updates(self, card: SeenCard) -> int:
        # The chat keeps no history of a row; its copy's version counts the rewrites.
        row_id, key = card.ref
        copies = self.session.scalars(
            select(CardCopy).where(CardCopy.card_key == key, CardCopy.platform == "local")
        )
        (copy,) = [c for c in copies if c.external_ref.get("message_id") == row_id]
        return copy.version - 1


def _check(resp: Any, *, first: bool) -> None:
    """The page's post is accepted once; the same client_id again is answered as a duplicate."""
    if first:
        assert resp.status_code == 202, resp.data
    else:
        assert (resp.status_code, resp.json) == (200, {"status": "duplicate"})
