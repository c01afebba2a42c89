"""审计日志: every change with who and when, newest first, filterable by kind of action."""

from __future__ import annotations

import json

from flask import Blueprint, request

import console.labels as labels
from bot.services.audit import entries
from console.pages.base import Page
from console.web import db, local, page, page_args

FAMILIES = {
    "": "全部",
    "console.": "登录",
    "rule": "规则",
    "org.": "组织架构",
    "ask.": "待办处理",
    "claim.": "申领审批",
    "appeal.": "申诉",
    "evidence.": "证据链下载",
    "broadcast.": "通知",
    "survey.": "问卷",
}


def view() -> str:
    """Entries 50 a page, optionally of one family (`?kind=rule`)."""
    kind = request.args.get("kind", "")
    prefix = kind if kind in FAMILIES and kind else None
    with db() as session:
        _, total = entries(session, limit=1, action_prefix=prefix)
        number, offset, pages = page_args(request.args.get("page"), total)
        lines, _ = entries(session, limit=50, offset=offset, action_prefix=prefix)
        rows = [
            {
                "when": local(line.entry.created_at),
                "who": f"{line.actor_name}（{line.actor_no}）" if line.actor_no else "系统",
                "action": labels.ACTIONS.get(line.entry.action, line.entry.action),
                "object": f"{line.entry.object_type} {line.entry.object_id or ''}".strip(),
                "detail": json.dumps(line.entry.detail, ensure_ascii=False)
                if line.entry.detail
                else "",
            }
            for line in lines
        ]
    return page("console/audit.html", rows=rows, total=total, kind=kind, families=FAMILIES,
                page_number=number, pages=pages)  # fmt: skip


def install(bp: Blueprint) -> None:
    """/console/audit/."""
    bp.add_url_rule("/audit/", "audit", view)


PAGE = Page("audit", "审计日志", install=install)
