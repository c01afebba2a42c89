"""The one rule for a card's image that the platform refuses: the card goes out without it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from bot.ports import DeliveryError

T = TypeVar("T")


def unless_image_refused(
    step: Callable[[], T], logger: logging.Logger, message: str, ref: str
) -> T | None:
    """Run one step of getting a card's image out (upload, or WeCom's separate photo message);
    None when the platform refuses it for good, so the card goes out without it.

    The card matters more than its photo: the approver can still open the claim. A retryable
    error raises, and the whole send is tried again, image included. The refusal is logged as
    `message % (ref, error)`; DeliveryError messages name the call, status and code only (no
    token).
    """
    try:
        return step()
    except DeliveryError as exc:
        if exc.retryable:
            raise
        logger.warning(message, ref, exc)
        return None
