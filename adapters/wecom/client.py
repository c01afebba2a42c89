"""WeCom outbound: app messages through `message/send`, cards as `template_card` (按钮交互型),
card updates through `message/update_template_card` with the newest unused response_code, and
image downloads through `media/get` (platforms.md §3)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from adapters.common.images import unless_image_refused
from adapters.wecom.api import WecomApi
from adapters.wecom.render import (
    card_markdown,
    is_interactive,
    render_message,
    render_template_card,
    task_id_for,
)
from adapters.wecom.response_codes import give_back_click_code, take_click_code
from bot.db import session_scope
from bot.ports import DeliveryError, MediaLoader, Recipient, SendResult
from bot.runtime.tokens import TokenCache
from bot.services.evidence import MAX_BYTES
from bot.services.kv import cache_delete, cache_get, cache_put, remembered
from cards import Card, Message

if TYPE_CHECKING:
    from bot.state import BotState

log = logging.getLogger(__name__)

MEDIA_TTL = timedelta(days=2)  # a temporary media_id lives 3 days
# message/send `touser`: "成员ID列表（消息接收者，多个接收者用‘|’分隔，最多支持1000个）"
# (developer.work.weixin.qq.com/document/path/90236, 发送应用消息). Each member still counts
# one message against their own 30/min and 1000/h, which delivery paces per member.
TOUSER_MAX = 1000
# How long "this outbox row's photo went out" is kept: longer than any row keeps retrying.
PHOTO_SENT_TTL = timedelta(days=3)


class WecomClient:
    """Sends, card updates and downloads for one WeCom self-built app."""

    def __init__(self, state: BotState, cfg: dict[str, str]):
        self.state = state
        self.corp_id = cfg["WECOM_CORP_ID"]
        self.agent_id = int(cfg["WECOM_AGENT_ID"])
        self.api = WecomApi(
            self.corp_id,
            cfg["WECOM_SECRET"],
            base=cfg["WECOM_API_BASE"],
            tokens=TokenCache(state.session_factory, state.clock),
            token_key=f"wecom:token:{self.corp_id}:{self.agent_id}",
        )

    def _send_app_message(self, recipient: Recipient, body: dict[str, Any]) -> dict[str, Any]:
        """message/send to one member (or appchat/send to a group chat)."""
        if recipient.chat_id:
            return self.api.post("appchat", "appchat/send", {"chatid": recipient.chat_id, **body})
        user_id = recipient.user_id or (recipient.reply_to or {}).get("user_id")
        if not user_id:
            raise DeliveryError("wecom: recipient has no userid", retryable=False)
        data = {"touser": user_id, "toparty": "", "totag": "", "agentid": self.agent_id, **body}
        result = self.api.post("send", "message/send", data)
        if result.get("invaliduser"):
            # errcode 0 but nobody received it: the member left or is outside the app's scope.
            raise DeliveryError(f"wecom send: invalid user {user_id}", retryable=False)
        return result

    def send_cost(self, recipient: Recipient, message: Message) -> int:
        """A card with a photo is two app messages (the photo goes first, on its own); both
        count against WeCom's 30/min and 1000/h per member, above which it drops messages."""
        photo = isinstance(message, Card) and message.image and not recipient.chat_id
        return 2 if photo else 1

    def batch_limit(self, message: Message) -> int:
        """Up to TOUSER_MAX members per message/send; a card with a photo goes one by one
        (its photo is a message of its own, sent first)."""
        return 1 if isinstance(message, Card) and message.image else TOUSER_MAX

    def send_batch(
        self,
        recipients: Sequence[Recipient],
        message: Message,
        *,
        idempotency_key: str,
        media: MediaLoader,
    ) -> list[SendResult | DeliveryError]:
        """One message/send to many members (`touser` joined with '|').

        WeCom answers with the members it could not reach in `invaliduser` (lower-cased) and
        delivers to the rest. A batch-sent card's response_code works once, for a single
        update of the whole batch, so it is not kept: each member's copy is updated with the
        code of their own click.
        """
        user_ids = [r.user_id or "" for r in recipients]
        if not 0 < len(user_ids) <= TOUSER_MAX or not all(user_ids):
            raise DeliveryError("wecom batch: 1 to 1000 members with userids", retryable=False)
        task_id = task_id_for(idempotency_key)
        body = {
            "touser": "|".join(user_ids), "toparty": "", "totag": "",
            "agentid": self.agent_id, **render_message(message, task_id=task_id),
        }  # fmt: skip
        result = self.api.post("send", "message/send", body)
        invalid = {u.lower() for u in str(result.get("invaliduser") or "").split("|") if u}
        interactive = is_interactive(message)
        outcomes: list[SendResult | DeliveryError] = []
        for user_id in user_ids:
            if user_id.lower() in invalid:
                outcomes.append(
                    DeliveryError(f"wecom send: invalid user {user_id}", retryable=False)
                )
                continue
            ref: dict[str, Any] = {"msgid": result.get("msgid")}
            if interactive:
                ref.update(task_id=task_id, user_id=user_id, response_code=None, batch=True)
            outcomes.append(SendResult(ref))
        return outcomes

    def send(
        self, recipient: Recipient, message: Message, *, idempotency_key: str, media: MediaLoader
    ) -> SendResult:
        """Deliver a text, a card (photo first, as its own image message) or a markdown card."""
        if recipient.chat_id and isinstance(message, Card):
            # Group chats (appchat/send) take no template cards: show the card as markdown.
            body = {"msgtype": "markdown", "markdown": {"content": card_markdown(message)}}
            result = self._send_app_message(recipient, body)
            return SendResult({"msgid": result.get("msgid")})
        if isinstance(message, Card) and message.image:
            self._send_image(recipient, message.image, media, idempotency_key)
        task_id = task_id_for(idempotency_key)
        result = self._send_app_message(recipient, render_message(message, task_id=task_id))
        ref: dict[str, Any] = {"msgid": result.get("msgid")}
        if is_interactive(message):
            user_id = recipient.user_id or (recipient.reply_to or {}).get("user_id")
            ref.update(task_id=task_id, user_id=user_id, response_code=result.get("response_code"))
        return SendResult(ref)

    def _send_image(
        self, recipient: Recipient, ref: str, media: MediaLoader, idempotency_key: str
    ) -> None:
        """The card's photo as its own image message, once per outbox row.

        No enable_duplicate_check here: the media_id is cached, so every row showing the same
        photo to the same person (an approval card, then the 待审 copy) would send identical
        JSON and WeCom would drop all but the first within the interval. A retry of this row
        skips the photo once its delivery is recorded instead. (Only an answer lost on the
        image send itself repeats the photo, which beats losing it.)
        """
        sent_key = f"wecom:photo:{idempotency_key}"
        with session_scope(self.state.session_factory) as session:
            if cache_get(session, sent_key, self.state.clock.now()) == ref:
                return
        media_id = unless_image_refused(
            lambda: self._media_id(ref, media),
            log,
            "wecom: image %s refused (%s), card sent without it",
            ref,
        )
        if media_id is None:
            return
        body = {"msgtype": "image", "image": {"media_id": media_id}}
        sent = unless_image_refused(
            lambda: self._send_app_message(recipient, body),
            log,
            "wecom: image %s not sent (%s), card sent without it",
            ref,
        )
        with session_scope(self.state.session_factory) as session:
            if sent is None:
                # E.g. 40007: the media_id expired early. Forget it: the next card uploads again.
                cache_delete(session, f"wecom:media:{ref}")
            else:
                cache_put(session, sent_key, ref, self.state.clock.now() + PHOTO_SENT_TTL)

    def _media_id(self, ref: str, media: MediaLoader) -> str | None:
        """Upload an image once (media/upload?type=image) and reuse its media_id for 2 days."""

        def upload() -> str | None:
            payload = media(ref)
            if payload is None:
                log.warning("wecom: image %s not found, card sent without it", ref)
                return None
            files = {"media": (payload.filename, payload.data, payload.mime_type)}
            answer = self.api.call(
                "upload", "POST", "media/upload", params={"type": "image"}, files=files
            )
            media_id = (answer.body or {}).get("media_id")
            if not media_id:
                raise DeliveryError("wecom upload: no media_id", retryable=True)
            return str(media_id)

        return remembered(
            self.state.session_factory,
            f"wecom:media:{ref}",
            now=self.state.clock.now(),
            ttl=MEDIA_TTL,
            produce=upload,
        )

    def update_card(
        self, external_ref: dict[str, Any], card: Card, *, media: MediaLoader
    ) -> dict[str, Any] | None:
        """Replace one delivered card (message/update_template_card) with `card`.

        Each response_code works once: a click's code (newest) wins over the send's.
        """
        task_id, user_id = external_ref.get("task_id"), external_ref.get("user_id")
        if not task_id or not user_id:
            return None  # sent as text/markdown: nothing to update in place
        now = self.state.clock.now()
        taken = take_click_code(self.state.session_factory, task_id, now, user_id)
        from_click = taken[0] if taken else None
        code = from_click or external_ref.get("response_code")
        if not code and external_ref.get("batch"):
            # A batch-sent copy the member never clicked: WeCom offers no code to update
            # just theirs (the send's one works once, for the whole batch).
            log.info("wecom update: batch copy %s for %s has no click code", task_id, user_id)
            return None
        if not code:
            raise DeliveryError(
                f"wecom update: no unused response_code for {task_id}", retryable=False
            )
        data = {
            "userids": [user_id],
            "agentid": self.agent_id,
            "response_code": code,
            "template_card": render_template_card(card, task_id),
        }
        try:
            self.api.post("update", "message/update_template_card", data)
        except DeliveryError:
            if taken:
                # Not consumed: keep the click's code for the retry (a newer one wins).
                give_back_click_code(self.state.session_factory, task_id, *taken, user_id)
            raise
        new_ref = dict(external_ref)
        if not from_click:
            new_ref["response_code"] = None
        return new_ref

    def download_image(self, media_ref: str) -> bytes:
        """GET media/get (the SDK's media.download hard-codes the host and has no timeout)."""
        return self.api.download(
            "media/get", "media/get", params={"media_id": media_ref}, limit=MAX_BYTES
        )
