"""What the ledger (积分流水) says: refused corrections and the memos shown under 积分."""

from __future__ import annotations

REVERSAL_OF_REVERSAL = "冲正记录不能再次冲正。"
ALREADY_REVERSED = "这条积分记录已经冲正过。"
CAMPAIGN_MEMO = "{campaign} 奖励"
