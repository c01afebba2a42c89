"""The asks engine (design §12): one mechanism for every "someone must answer this by then".

A feature declares an AskKind (its choices and what happens on an answer), opens asks with
`open_ask`, and the engine does the rest: cards with signed buttons for each person, reasons,
photos and numbers collected from the next message, refusals, audit, every copy updated after
an answer, reminders and escalation by policy on the workday calendar (`tick`).
"""

from bot.asks.bulk import NewAsk, open_asks
from bot.asks.engine import (
    acknowledge,
    answer,
    card_for,
    close_ask,
    content_of,
    ensure_live,
    find_live,
    lock,
    may_answer,
    open_ask,
    open_asks_of,
    primary_key,
    send_copy,
    show,
)
from bot.asks.escalation import NOTIFY, TickReport, tick
from bot.asks.inputs import (
    cancel_input,
    press,
    press_reason,
    take_photo,
    take_text,
    wants_photo,
)
from bot.asks.kinds import (
    Answer,
    AskKind,
    Choice,
    Needs,
    choice_of,
    choices_of,
    is_offered,
    register,
    step_taken,
)
from bot.asks.shared import SHARED_ACTION, open_shared, own_ask, press_shared

__all__ = [
    "NOTIFY",
    "SHARED_ACTION",
    "Answer",
    "AskKind",
    "Choice",
    "Needs",
    "NewAsk",
    "TickReport",
    "acknowledge",
    "answer",
    "cancel_input",
    "card_for",
    "choice_of",
    "choices_of",
    "close_ask",
    "content_of",
    "ensure_live",
    "find_live",
    "is_offered",
    "lock",
    "may_answer",
    "open_ask",
    "open_asks",
    "open_asks_of",
    "open_shared",
    "own_ask",
    "press",
    "press_reason",
    "press_shared",
    "primary_key",
    "register",
    "send_copy",
    "show",
    "step_taken",
    "take_photo",
    "take_text",
    "tick",
    "wants_photo",
]
