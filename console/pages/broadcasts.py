"""通知: important notices with read confirmations and their read rates (design §14).

Planned until the broadcasts service exists; each 已读 is an ask, so unread people already
show in the overview's open asks.
"""

from __future__ import annotations

from console.pages.base import planned

PAGE = planned(
    "broadcasts",
    "通知",
    "发送重要通知（全员、按部门或按人），查看每条通知的已读率和未读名单，对未读的人再提醒一次。",
    "已读确认是待办的一种：未读的人数会出现在概览的「待办按等待时长」里。",
)
