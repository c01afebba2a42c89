"""The domain tables (design §7), one module per area; the schema itself comes from migrations/.

Import models from here (`from bot.models import Claim`); the area modules import only
`bot.models.base` and the areas below them, never this package.
"""

from bot.models.appeals import Appeal, AppealState
from bot.models.asks import Ask, AskLog, AskState, EscalationPolicy, Task, TaskState
from bot.models.base import Base, UTCDateTime
from bot.models.claims import Campaign, Claim, ClaimState, Evidence, Rule
from bot.models.economy import Redemption, RedemptionState, Reward, RewardKind
from bot.models.ledger import (
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerKeying,
    StarAward,
)
from bot.models.messaging import (
    CardCopy,
    CardState,
    ConversationState,
    InboundEvent,
    LocalMessage,
    Outbox,
)
from bot.models.org import Department, DepartmentChat, Employee, Identity, Role
from bot.models.reviews import Broadcast, Checkin, Like, Survey, SurveyAnswer, SurveyRater
from bot.models.system import AuditLog, CalendarDay, JobRun, KeyValue, SchedulerLease, Setting

__all__ = [
    "Appeal",
    "AppealState",
    "Ask",
    "AskLog",
    "AskState",
    "AuditLog",
    "Broadcast",
    "Base",
    "CalendarDay",
    "Campaign",
    "CardCopy",
    "CardState",
    "Checkin",
    "Claim",
    "ClaimState",
    "ConversationState",
    "Department",
    "DepartmentChat",
    "Employee",
    "EscalationPolicy",
    "Evidence",
    "Identity",
    "InboundEvent",
    "JobRun",
    "KeyValue",
    "Like",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LedgerHead",
    "LedgerKeying",
    "LocalMessage",
    "Outbox",
    "Redemption",
    "RedemptionState",
    "Reward",
    "RewardKind",
    "Rule",
    "Role",
    "SchedulerLease",
    "Setting",
    "StarAward",
    "Survey",
    "SurveyAnswer",
    "SurveyRater",
    "Task",
    "TaskState",
    "UTCDateTime",
]
