"""The web chat's routes under /local/: the page, its polling and what it posts.

A post becomes an Event like any platform's callback; the page polls the employee's
local_messages rows (written by client.py) as rendered HTML.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Blueprint, abort, jsonify, render_template, request, send_file
from sqlalchemy import select, update

from adapters.local.client import incoming_dir
from adapters.local.photos import save_thumbnail
from adapters.local.render import render_html, render_photo
from bot.db import session_scope
from bot.models import Department, Employee, Evidence, LocalMessage
from bot.notices.evidence import PHOTO_NOT_SAVED, PHOTO_TOO_LARGE
from bot.ports import Event, EventKind
from bot.services.evidence import MAX_BYTES, photo_path
from bot.services.images import media_path
from bot.services.inbound import record_inbound
from cards import Card, Message, Text, message_from_dict

if TYPE_CHECKING:
    from bot.state import BotState

HISTORY = 60
EMPTY_MESSAGE = "请输入文字或选择照片。"
ANONYMOUS_LINE = "🔒 已匿名提交"  # the sender's own line once an anonymous answer was taken
PHOTO_LINE = "📷 照片"


class LocalChat:
    """The web chat's routes: pick an employee, chat, tap card buttons, send photos."""

    def __init__(self, state: BotState):
        self.state = state
        self.incoming = incoming_dir(state)

    def blueprint(self) -> Blueprint:
        """Routes of the web chat."""
        bp = Blueprint("local", __name__, url_prefix="/local", template_folder="templates")
        bp.add_url_rule("/", view_func=self.page)
        bp.add_url_rule("/api/employees", view_func=self.employees)
        bp.add_url_rule("/api/messages", view_func=self.messages)
        bp.add_url_rule("/api/send", view_func=self.post_message, methods=["POST"])
        bp.add_url_rule("/api/action", view_func=self.post_action, methods=["POST"])
        bp.add_url_rule("/media/<int:evidence_id>", view_func=self.media)
        bp.add_url_rule("/files/<path:ref>", view_func=self.generated_image)
        # A body over the app's upload limit is refused before it is read; the page shows why.
        bp.register_error_handler(
            413, lambda _exc: (jsonify(status="refused", message=PHOTO_TOO_LARGE), 413)
        )
        return bp

    def page(self) -> Any:
        """The chat page."""
        return render_template("local_chat.html")

    def employees(self) -> Any:
        """Everyone, grouped by department, for the picker."""
        with session_scope(self.state.session_factory) as session:
            rows = session.execute(
                select(Employee, Department.path)
                .outerjoin(Department, Department.id == Employee.department_id)
                .where(Employee.active.is_(True))
                .order_by(Department.path, Employee.role.desc(), Employee.employee_no)
            ).all()
            return jsonify(
                [
                    {
                        "employee_no": e.employee_no,
                        "name": e.name,
                        "role": e.role,
                        "department": path or "",
                    }
                    for e, path in rows
                ]
            )

    def _current(self, session: Any) -> Employee:
        no = request.values.get("employee", "")
        employee = session.scalar(select(Employee).where(Employee.employee_no == no))
        if employee is None:
            abort(404)
        return employee

    def messages(self) -> Any:
        """The employee's latest messages as rendered HTML (polled by the page)."""
        with session_scope(self.state.session_factory) as session:
            employee = self._current(session)
            rows = list(
                session.scalars(
                    select(LocalMessage)
                    .where(LocalMessage.employee_id == employee.id)
                    .order_by(LocalMessage.id.desc())
                    .limit(HISTORY)
                )
            )
            out = []
            for row in reversed(rows):
                out.append(
                    {
                        "id": row.id,
                        "direction": row.direction,
                        "html": self._html(row.body),
                        "version": row.updated_at.isoformat(),
                    }
                )
            return jsonify(out)

    def _html(self, body: dict[str, Any]) -> str:
        """One line of the log: a sent photo's thumbnail, or a rendered message."""
        if body.get("type") == "photo":
            return render_photo(f"/local/files/{body['ref'].removeprefix('media:')}")
        message = message_from_dict(body)
        return render_html(message, image_url=self._image_url(message))

    @staticmethod
    def _image_url(message: Message) -> str | None:
        if not isinstance(message, Card) or not message.image:
            return None
        kind, _, ref = message.image.partition(":")
        if kind == "evidence":
            return f"/local/media/{ref}"
        if kind == "media":
            return f"/local/files/{ref}"
        return None

    def redact_inbound(self, session: Any, event: Event) -> None:
        """The page's own line for an anonymous answer says only that it was sent."""
        employee = session.scalar(select(Employee).where(Employee.employee_no == event.sender_id))
        if employee is None:
            return
        session.execute(
            update(LocalMessage)
            .where(
                LocalMessage.employee_id == employee.id,
                LocalMessage.direction == "in",
                LocalMessage.created_at == event.received_at,
            )
            .values(body=Text(ANONYMOUS_LINE).to_dict())
        )

    def _accept(self, employee: Employee, event: Event, shown: Message | dict[str, Any]) -> Any:
        """Show the user's own line, record the Event once, wake the worker."""
        now = event.received_at
        with session_scope(self.state.session_factory) as session:
            if record_inbound(session, event) is None:
                return jsonify(status="duplicate"), 200
            session.add(
                LocalMessage(
                    employee_id=employee.id,
                    direction="in",
                    body=shown if isinstance(shown, dict) else shown.to_dict(),
                    created_at=now,
                    updated_at=now,
                )
            )
        self.state.notify_worker()
        return jsonify(status="accepted"), 202

    def post_message(self) -> Any:
        """Text or a photo from the page."""
        with session_scope(self.state.session_factory) as session:
            employee = self._current(session)
            session.expunge(employee)
        client_id = (request.form.get("client_id") or secrets.token_hex(8))[:64]
        now = self.state.clock.now()
        photo = request.files.get("photo")
        if photo is not None and photo.filename:
            data = photo.stream.read(MAX_BYTES + 1)
            if len(data) > MAX_BYTES:
                return jsonify(status="refused", message=PHOTO_TOO_LARGE), 413
            ref = f"{secrets.token_hex(16)}.upload"
            try:
                self.incoming.mkdir(parents=True, exist_ok=True)
                (self.incoming / ref).write_bytes(data)
                thumb = save_thumbnail(data, self.state.config.media_dir)
            except OSError as exc:
                # A full or read-only disk: logged once (and shown on /readyz), not per photo.
                self.state.media.failed(exc)
                return jsonify(status="refused", message=PHOTO_NOT_SAVED), 503
            event = Event(
                platform="local",
                kind=EventKind.IMAGE,
                sender_id=employee.employee_no,
                dedupe_key=f"msg:{employee.employee_no}:{client_id}",
                received_at=now,
                media_ref=ref,
            )
            shown = {"type": "photo", "ref": thumb} if thumb else Text(PHOTO_LINE)
            return self._accept(employee, event, shown)
        text = (request.form.get("text") or "").strip()[:1000]
        if not text:
            return jsonify(status="refused", message=EMPTY_MESSAGE), 400
        event = Event(
            platform="local",
            kind=EventKind.TEXT,
            sender_id=employee.employee_no,
            dedupe_key=f"msg:{employee.employee_no}:{client_id}",
            received_at=now,
            text=text,
        )
        return self._accept(employee, event, Text(text))

    def post_action(self) -> Any:
        """A button press on a card."""
        with session_scope(self.state.session_factory) as session:
            employee = self._current(session)
            session.expunge(employee)
        value = (request.form.get("value") or "")[:1024]
        label = (request.form.get("label") or "按钮")[:40]
        client_id = (request.form.get("client_id") or secrets.token_hex(8))[:64]
        if not value:
            return jsonify(status="refused"), 400
        event = Event(
            platform="local",
            kind=EventKind.CARD_ACTION,
            sender_id=employee.employee_no,
            dedupe_key=f"act:{employee.employee_no}:{client_id}",
            received_at=self.state.clock.now(),
            action_value=value,
        )
        return self._accept(employee, event, Text(f"👆 {label}"))

    def generated_image(self, ref: str) -> Any:
        """A generated image (leaderboard, certificate) named by a `media:` reference."""
        path = media_path(self.state.config.media_dir, f"media:{ref}")
        if path is None:
            abort(404)
        return send_file(path, max_age=3600)

    def media(self, evidence_id: int) -> Any:
        """An evidence photo for a card."""
        with session_scope(self.state.session_factory) as session:
            evidence = session.get(Evidence, evidence_id)
            if evidence is None:
                abort(404)
            path = photo_path(self.state.config.media_dir, evidence)
            mime = evidence.mime_type
        if not path.is_file():
            abort(404)
        return send_file(path.resolve(), mimetype=mime, max_age=timedelta(days=1).total_seconds())
