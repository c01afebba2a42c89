"""The domain tables (design §7), one module per area; the schema itself comes from migrations/.

Import models from here (`from bot.models import Claim`); the area modules import only
`bot.models.base` and the areas below them, never this package.
"""

from bot.models.access import ConsoleSession, SignInCode
from bot.models.appeals import Appeal, AppealState
from bot.models.asks import Ask, AskLog, AskState, EscalationPolicy, Task, TaskState
from bot.models.base import Base, UTCDateTime
from bot.models.changes import (
    AckDecision,
    Change,
    ChangeAck,
    ChangeImpact,
    ChangeNotice,
    ChangeRetest,
    ChangeStatus,
    ModuleOwner,
    RetestState,
)
from bot.models.claims import Campaign, Claim, ClaimState, Evidence, EvidenceHash, Rule
from bot.models.economy import (
    CampaignRule,
    Redemption,
    RedemptionState,
    Reward,
    RewardKind,
    Suggestion,
    SuggestionState,
)
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
from bot.models.review import ClaimApproval, ReviewFlag
from bot.models.reviews import (
    Broadcast,
    Checkin,
    Like,
    Survey,
    SurveyAnswer,
    SurveyRater,
    SurveyRelease,
)
from bot.models.system import AuditLog, CalendarDay, JobRun, KeyValue, SchedulerLease, Setting

__all__ = [
    "AckDecision",
    "Change",
    "ChangeAck",
    "ChangeImpact",
    "ChangeNotice",
    "ChangeRetest",
    "ChangeStatus",
    "ModuleOwner",
    "RetestState",
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
    "CampaignRule",
    "CardCopy",
    "CardState",
    "Checkin",
    "Claim",
    "ClaimApproval",
    "ClaimState",
    "ConsoleSession",
    "ConversationState",
    "Department",
    "DepartmentChat",
    "Employee",
    "EscalationPolicy",
    "Evidence",
    "EvidenceHash",
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
    "ReviewFlag",
    "Reward",
    "RewardKind",
    "Rule",
    "Role",
    "SchedulerLease",
    "Setting",
    "SignInCode",
    "StarAward",
    "Survey",
    "SurveyAnswer",
    "SurveyRater",
    "Suggestion",
    "SuggestionState",
    "SurveyRelease",
    "Task",
    "TaskState",
    "UTCDateTime",
]
