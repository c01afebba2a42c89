"""What the ledger (积分流水) says: refused corrections and the memos shown under 积分."""

from __future__ import annotations

REVERSAL_OF_REVERSAL = "冲正记录不能再次冲正。"
ALREADY_REVERSED = "这条积分记录已经冲正过。"
CAMPAIGN_MEMO = "{campaign} 奖励"

# The daily checkpoint (job ledger_checkpoint) to each HR employee: what it is, how to keep it.
CHECKPOINT_NOTICE = (
    "📒 积分账本存证 · {date}\n"
    "截至 {time}，积分流水共 {seq} 条。下面这行是系统签名的存证码，"
    "日后可凭它核对积分记录有没有被删改：\n"
    "{line}\n"
    "请保留这条消息，不要删除或撤回；需要核对时，把这一行交给系统管理员。"
)
CHECKPOINT_ALERT = (
    "⚠️ 积分账本核对异常 · {date}\n"
    "账本与之前的存证对不上（{count} 处），今天没有生成新的存证。"
    "请尽快联系系统管理员运行 python -m bot ledger verify 查明原因。"
)
