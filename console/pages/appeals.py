"""申诉: appeals against rejected claims and the evidence-chain download (design §15).

Planned until the appeals service exists. Deciding an appeal is an ask to the approver's
supervisor or HR, so it already appears under 我的待办 for whoever must decide it.
"""

from __future__ import annotations

from console.pages.base import planned

PAGE = planned(
    "appeals",
    "申诉",
    "每条申诉的申领、照片、驳回理由和申诉理由，处理状态与期限；按员工下载近 3 个月的证据链"
    "（照片、申领与审批记录、积分流水及其哈希链证明）。",
    "申诉由驳回人的上级或 HR 在消息卡片中处理，也会出现在本控制台的「我的待办」里。",
)
