"""What the runtime tells people when something went wrong around their message."""

from __future__ import annotations

from datetime import timedelta

UNKNOWN_SENDER = "你好！你还没有在绩效积分系统中登记，暂时无法使用。请联系 HR 开通账号。"
UNKNOWN_SENDER_TTL = timedelta(days=1)  # design §11: at most once per sender per day
# Said once, at the first failure of our own (a bug, the database, a full disk); the answer
# follows by itself when a retry succeeds, HANDLING_FAILED when none does.
RETRYING = "消息已收到，系统暂时出了点问题，恢复后会自动处理，无需重发。"
DOWNLOAD_FAILED = "图片下载失败，请重新发送照片。"
# {ref} is the inbound event id, which the log line of the failure names too (style §5).
HANDLING_FAILED = "抱歉，刚才的消息没有处理成功，请稍后再试（编号 {ref}）。"
