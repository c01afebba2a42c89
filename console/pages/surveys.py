"""问卷: 360 questionnaires and their anonymous results (design §14).

Planned until the surveys service exists.
"""

from __future__ import annotations

from console.pages.base import planned

PAGE = planned(
    "surveys",
    "问卷",
    "创建 360 问卷（题目、被评人、评价人、截止时间），查看作答进度；满 3 人作答后显示每题平均分"
    "和打乱顺序、不署名的文字回答。",
)
