"""申诉: appeals against rejected claims and the evidence-chain download (design §15).

Deciding an appeal is an ask to the rejecter's supervisor, else HR (and to HR once it is
overdue), answered under 我的待办 like a chat button: this page lists the appeals and links each
pending one there. The download is `export_evidence`, the code behind `python -m bot evidence
export`, so the console and the CLI hand out the same zip; each download is in the audit log.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import asks
from bot.models import Appeal, AppealState, Employee
from bot.notices.appeals import APPEAL_KIND, STATE_LABELS
from bot.services.appeals import appeal_subject, credited_text, recent_appeals
from bot.services.audit import record
from bot.services.evidence_export import DEFAULT_MONTHS, export_evidence
from bot.services.ledgerproof import ProofRefused
from console.pages.base import Page
from console.web import db, flash, local, me, now, page, state

MONTHS = (1, 3, 6, 12)
UNKNOWN_EMPLOYEE = "没有工号为 {number} 的员工。"
NO_PROOF = "积分流水校验未通过，无法生成证据链：请让管理员运行 python -m bot ledger verify。"


def _item(session: Session, appeal: Appeal, viewer: Employee) -> dict[str, Any]:
    claim = appeal.claim
    ask = None
    if appeal.state == AppealState.PENDING:
        ask = asks.find_live(session, appeal_subject(appeal.id), APPEAL_KIND)
    outcome = ""
    if appeal.state == AppealState.OVERTURNED:
        outcome = credited_text(session, appeal) or ""
    elif appeal.state == AppealState.UPHELD:
        outcome = appeal.decision_reason or ""
    return {
        "id": appeal.id,
        "who": f"{appeal.employee.name}（{appeal.employee.employee_no}）",
        "name": appeal.employee.name,
        "employee_no": appeal.employee.employee_no,
        "claim": f"#{claim.id} {claim.rule.code} {claim.rule.title}",
        "note": claim.note or "",
        "photo": url_for("console.evidence", evidence_id=claim.evidence_id)
        if claim.evidence_id
        else None,
        "rejected": appeal.rejection_reason or "-",
        "rejecter": appeal.rejected_by.name if appeal.rejected_by else "-",
        "reason": appeal.reason,
        "state": STATE_LABELS.get(AppealState(appeal.state), appeal.state),
        "pending": appeal.state == AppealState.PENDING,
        "overturned": appeal.state == AppealState.OVERTURNED,
        "reviewer": appeal.reviewer.name,
        "decider": appeal.decided_by.name if appeal.decided_by else "",
        "outcome": outcome,
        "filed": local(appeal.created_at),
        "due": local(appeal.due_at),
        "overdue": appeal.state == AppealState.PENDING and appeal.due_at < now(),
        "ask_id": ask.id if ask is not None else None,
        "mine": ask is not None and asks.may_answer(session, ask, viewer),
    }


def view() -> str:
    """Pending appeals (soonest due first), then decided ones, and the export form."""
    with db() as session:
        viewer = me(session)
        items = [_item(session, a, viewer) for a in recent_appeals(session)]
    number = (request.args.get("employee_no") or "").strip()[:50]
    return page("console/appeals.html", items=items, months=MONTHS, default=DEFAULT_MONTHS,
                employee_no=number)  # fmt: skip


def export() -> Any:
    """The evidence chain of one employee for the last N months, as the CLI writes it."""
    number = (request.form.get("employee_no") or "").strip()[:50]
    try:
        months = int(request.form.get("months") or DEFAULT_MONTHS)
    except ValueError:
        months = DEFAULT_MONTHS
    months = min(max(months, 1), 120)
    config = state().config
    with db() as session:
        employee = session.scalar(select(Employee).where(Employee.employee_no == number))
        if employee is None:
            flash(session, UNKNOWN_EMPLOYEE.format(number=number or "（空）"), "error")
            return redirect(url_for("console.appeals"))
        try:
            with session.begin_nested():
                made = export_evidence(session, employee, now=now(), tz=config.tz,
                                       media_dir=config.media_dir, months=months)  # fmt: skip
        except ProofRefused:
            flash(session, NO_PROOF, "error")
            return redirect(url_for("console.appeals", employee_no=number))
        record(session, me(session), "evidence.export", "employee", employee.employee_no,
               {"months": months, "claims": made.claims, "photos": made.photos,
                "appeals": made.appeals, "entries": made.entries,
                "proof_seq": made.proof.checkpoint.seq if made.proof else None},
               now=now())  # fmt: skip
    return Response(made.data, mimetype="application/zip",
                    headers={"Content-Disposition": f"attachment; filename={made.filename}"})  # fmt: skip


def install(bp: Blueprint) -> None:
    """/console/appeals/ and the evidence download."""
    bp.add_url_rule("/appeals/", "appeals", view)
    bp.add_url_rule("/appeals/evidence.zip", "appeals_export", export, methods=["POST"])


PAGE = Page("appeals", "申诉", install=install)
