"""What rewards and redemption (兑换) say: the reward list, the hold, HR's approval card, the
results, and the reward CSV's import report."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.asks.kinds import Choice, Needs
from bot.models import Employee, Redemption, Reward, RewardKind
from bot.outbox import enqueue
from bot.timeutil import local_dt
from cards import Card, Field, Text

APPROVAL_KIND = "redemption_approval"
KIND_LABELS = {
    RewardKind.GOODS: "实物",
    RewardKind.LEAVE: "调休",
    RewardKind.PRIORITY: "晋升评审优先",
}
KIND_HINTS = {
    RewardKind.GOODS: "请到 HR 处领取。",
    RewardKind.LEAVE: "调休已登记，请与主管约定休假时间。",
    RewardKind.PRIORITY: "已记入晋升评审优先名单。",
}

LIST_TITLE = "🎁 积分兑换"
LIST_LINE = "{code} {name}（{kind}）· {cost} 分 · {stock}"
STOCK_LEFT = "剩 {n} 件"
STOCK_UNLIMITED = "不限量"
STOCK_FIELD = "{stock} 件（审批中 {pending} 件，含本次）"
SOLD_OUT = "已兑完"
TOO_DEAR = "积分不足"
PENDING_HEADER = "审批中："
PENDING_LINE = "· {code} {name}（冻结 {cost} 分）"
LIST_NOTE = "点按钮申请，或回复「兑换 编号」，如「兑换 R01」。提交后积分先冻结，HR 批准后扣除。"
NO_REWARDS = "目前没有可兑换的奖励，请留意 HR 的通知。"
BUTTON = "{code} {name} {cost}分"

UNKNOWN_REWARD = "没有编号为 {code} 的奖励，发送「兑换」查看可兑换的奖励。"
INACTIVE = "「{name}」已下架，发送「兑换」查看可兑换的奖励。"
NOT_ENOUGH = "积分不足：「{name}」需要 {cost} 分，你的可用积分 {available} 分（余额 {balance}，冻结 {held}）。"
OUT_OF_STOCK = "「{name}」已兑完（或都在审批中），请换一个奖励或稍后再试。"
PRICE_CHANGED = "「{name}」现在是 {cost} 分，请发送「兑换」重新查看。"
ALREADY_PENDING = "你已申请兑换「{name}」，正在等待 HR 审批，批准或拒绝后可再次申请。"
NO_APPROVER = "暂时没有人可以审批兑换，请联系 HR。"
REQUESTED = (
    "⏳ 已申请兑换 {code} {name}（-{cost} 分），积分已冻结，等待 {approver} 审批。"
    "当前可用 {available} 分。"
)
APPROVED = "🎁 兑换已批准：{name} -{cost} 分，当前余额 {balance} 分。{hint}"
REJECTED = "兑换未批准：{name}\n原因：{reason}\n冻结的 {cost} 分已退回可用积分。"
APPROVED_ACK = "已批准兑换 #{id}（{name} {item}），已扣 {cost} 分并通知本人。"
REJECTED_ACK = "已拒绝兑换 #{id}（{name} {item}），冻结积分已退回并通知本人。"
APPROVE_SHORT = (
    "{name} 的余额不足以兑换「{item}」（需 {cost} 分，可用 {available} 分），请拒绝这项申请。"
)
STOCK_GONE = "「{item}」库存已为 0，无法批准，请拒绝这项申请或先补充库存。"
NOT_PENDING = "这项兑换已经处理过了，无需操作。"
NOT_HR = "这项兑换审批不归你处理。"
ALREADY_DECIDED = "该兑换已由 {name} 于 {time} 处理（{outcome}），无需重复操作。"
TITLE = "兑换申请 #{id}：{name} {code} {item}"
CARD_TITLE = "兑换申请 #{id}"
REJECT_TITLE = "拒绝兑换 #{id}"
REJECT_PROMPT = "请选择拒绝原因，或直接回复文字说明（兑换 #{id}）。"
REJECT_CANCELLED = "已取消拒绝，兑换 #{id} 仍待审批。"
REJECT_REASONS = ("库存不足", "积分存在异议", "暂停兑换")
LEDGER_MEMO = "兑换 {code} {name}"

# Reward CSV (English for the operator, the Chinese in brackets for HR)
BAD_KIND = "kind must be one of goods, leave, priority, got {value!r} (类型无效)"
BAD_COST = "cost must be an integer from 0 to {limit}, got {value!r} (所需积分无效)"
BAD_STOCK = "stock must be empty (unlimited) or an integer ≥ 0, got {value!r} (库存无效)"
CELL_EMPTY = "{column} is empty ({zh}为空)"
CELL_TOO_LONG = "{column} longer than {limit} characters ({zh}过长)"
NOT_BOOLEAN = "{column} must be true or false, got {value!r} (应为 true 或 false)"
DUPLICATE_CODE = "code {code} already on line {line} (编号重复)"
COLUMN_NAMES = {"code": "编号", "name": "名称"}
EXPORTED = "exported {count} rewards to {file} (已导出 {count} 个奖励)"


def stock_text(reward: Reward, pending: int) -> str:
    """剩 N 件 (stock less the requests awaiting approval), 不限量, or 已兑完."""
    if reward.stock is None:
        return STOCK_UNLIMITED
    left = reward.stock - pending
    return STOCK_LEFT.format(n=left) if left > 0 else SOLD_OUT


def approval_choices(redemption_id: int) -> tuple[Choice, Choice]:
    """批准, and 拒绝 with a reason."""
    return (
        Choice("approve", "批准", "primary", outcome="已批准"),
        Choice(
            "reject", "拒绝", "danger", outcome="已拒绝", needs=Needs.REASON,
            reasons=REJECT_REASONS, prompt_title=REJECT_TITLE.format(id=redemption_id),
            prompt=REJECT_PROMPT.format(id=redemption_id),
            cancelled=REJECT_CANCELLED.format(id=redemption_id),
        ),
    )  # fmt: skip


def approval_card(
    redemption: Redemption, reward: Reward, employee: Employee, *, balance: int, held: int,
    pending: int, tz: ZoneInfo,
) -> Card:  # fmt: skip
    """HR's card: who, what, the cost against their balance and holds, the stock."""
    dept = employee.department.name if employee.department else "-"
    return Card(
        title=CARD_TITLE.format(id=redemption.id),
        fields=(
            Field("申请人", f"{employee.name}（{dept}）"),
            Field("奖励", f"{reward.code} {reward.title}（{KIND_LABELS.get(reward.kind, '-')}）"),
            Field("积分", f"-{redemption.cost} 分"),
            Field("余额", f"{balance} 分（冻结 {held} 分，含本次）"),
            Field(
                "库存",
                STOCK_FIELD.format(stock=reward.stock, pending=pending)
                if reward.stock is not None
                else STOCK_UNLIMITED,
            ),
            Field("时间", local_dt(redemption.created_at, tz)),
        ),
    )


def title(redemption: Redemption, reward: Reward, employee: Employee) -> str:
    """How the approval reads in reminders and 任务."""
    return TITLE.format(id=redemption.id, name=employee.name, code=reward.code, item=reward.title)


def tell_approved(session: Session, redemption: Redemption, *, balance: int, now: datetime) -> None:
    """批准: the debit and the new balance, with what happens next for the kind."""
    reward = redemption.reward
    text = APPROVED.format(
        name=reward.title, cost=redemption.cost, balance=balance,
        hint=KIND_HINTS.get(reward.kind, ""),
    )  # fmt: skip
    enqueue(session, Text(text), now=now, recipient=redemption.employee)


def tell_rejected(session: Session, redemption: Redemption, *, now: datetime) -> None:
    """拒绝: the reason, and the hold released."""
    text = REJECTED.format(
        name=redemption.reward.title, reason=redemption.reason, cost=redemption.cost
    )
    enqueue(session, Text(text), now=now, recipient=redemption.employee)


def wallet_fields(balance: int, held: int) -> tuple[Field, Field, Field]:
    """余额, 冻结 and 可用 for the reward list."""
    return (
        Field("余额", f"{balance} 分"),
        Field("冻结", f"{held} 分"),
        Field("可用", f"{max(balance - held, 0)} 分"),
    )


def held_fields(balance: int, held: int) -> tuple[Field, Field]:
    """冻结 and 可用 under 积分, while redemptions wait for HR."""
    return (Field("冻结", f"{held} 分（兑换审批中）"), Field("可用", f"{balance - held} 分"))
