"""Identical content to many people in few API calls (broadcasts, read confirmations).

Rows written together with the same content share an outbox `batch_key`. A delivery round
leases the rest of a batch along with the rows it took (outbox.lease_mates), resolves and paces
every row on its own as usual (each recipient's own limits still count each message they
receive), and then groups what may go now by platform and content into chunks of at most the
platform's per-call maximum (`Adapter.batch_limit`): each chunk is one `send_batch` call, and its
outcome is recorded per row — a recipient the platform refuses fails alone.

Only plain 1:1 sends are grouped: group chats and reply contexts go one by one, and so does a
recipient with more than one row in the round, so one person's messages keep their order.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.ports import Adapter, Recipient
from cards import Card, Message

# Rows leased per delivery round beyond the first BATCH for batches under way: enough for a
# few full WeCom calls (1000 users each) without holding one round's lease for long.
MATES = 4000


class Batchable(Protocol):
    """What grouping reads of a planned send (runtime.delivery.Plan)."""

    key: str
    platform: str
    batch_key: str | None
    recipient: Recipient | None
    message: Message | None


@dataclass
class Chunk:
    """Planned sends to many recipients that go out in one batch call."""

    platform: str
    plans: list[Any] = field(default_factory=list)


def content_digest(message: Message) -> str:
    """What must be equal for two sends to share a call: the message without its card key."""
    data = message.to_dict()
    if isinstance(message, Card):
        data.pop("key", None)
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()


def _alone(plan: Batchable, per_key: Counter[str]) -> bool:
    r = plan.recipient
    return (
        not plan.batch_key
        or r is None
        or plan.message is None
        or bool(r.chat_id or r.reply_to or not r.user_id)
        or per_key[plan.key] > 1
    )


def group(plans: Sequence[Any], adapters: Mapping[str, Adapter]) -> tuple[list[Chunk], list[Any]]:
    """Split ready plans into batch chunks and the plans that go one by one."""
    per_key = Counter(p.key for p in plans)
    groups: dict[tuple[str, str, str, int], list[Any]] = defaultdict(list)
    singles: list[Any] = []
    digests: dict[int, str] = {}
    for plan in plans:
        if _alone(plan, per_key):
            singles.append(plan)
            continue
        limit = adapters[plan.platform].batch_limit(plan.message)
        if limit <= 1:
            singles.append(plan)
            continue
        # Rows of one batch usually share one payload dict: hash each distinct one once.
        digest = digests.get(id(plan.message))
        if digest is None:
            digest = digests[id(plan.message)] = content_digest(plan.message)
        groups[(plan.platform, plan.batch_key, digest, limit)].append(plan)
    chunks: list[Chunk] = []
    for (platform, _batch, _digest, limit), members in groups.items():
        for start in range(0, len(members), limit):
            part = members[start : start + limit]
            if len(part) == 1:
                singles.extend(part)
            else:
                chunks.append(Chunk(platform, part))
    return chunks, singles
