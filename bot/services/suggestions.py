"""Suggestions (建议, design §15): a worker's idea goes to their supervisor as an ask answered
with 采纳 / 需讨论 / 不采纳 within 72 hours (reminder at 48 h, next level and HR at 72 h, by
the `suggestion` policy); an adopted one is later marked 已实施, which credits rule A06 to its
author as an approved claim (campaign bonuses included, named like every other credit).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import asks
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound
from bot.models import (
    AuditLog,
    Claim,
    ClaimState,
    Department,
    Employee,
    Evidence,
    Role,
    Rule,
    Suggestion,
    SuggestionState,
    Task,
)
from bot.notices import suggestions as texts
from bot.services.campaigns import award_for
from bot.services.claims import ClaimContext, claim_award, credit_claim
from bot.services.ledger import balance
from bot.services.people import approvers_of
from bot.signing import Signer

RESPONSE_TIME = timedelta(hours=72)
MIN_TEXT, MAX_TEXT = 4, 1000
CREDIT_RULE = "A06"
POLICY = "suggestion"


def subject(suggestion_id: int) -> str:
    """The subject of a suggestion's asks."""
    return f"suggestion:{suggestion_id}"


def reviewers_of(session: Session, employee: Employee) -> list[Employee]:
    """Who answers: the supervisor (and their delegate), else HR."""
    people = approvers_of(employee)
    if people:
        return people
    hr = session.scalars(
        select(Employee)
        .where(Employee.role == Role.HR, Employee.active.is_(True), Employee.id != employee.id)
        .order_by(Employee.id)
    )
    return list(hr)


def submit_suggestion(
    session: Session,
    employee: Employee,
    text: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    signer: Signer,
    evidence: Evidence | None = None,
    task: Task | None = None,
) -> Suggestion:
    """Record a suggestion and ask the supervisor to answer it within 72 hours.

    Raises:
        InvalidInput / NotAllowed: too short or long, a photo not the author's, nobody to answer.
    """
    text = text.strip()
    if len(text) < MIN_TEXT:
        raise InvalidInput(texts.TOO_SHORT)
    if len(text) > MAX_TEXT:
        raise InvalidInput(texts.TOO_LONG.format(limit=MAX_TEXT))
    if evidence is not None and evidence.employee_id != employee.id:
        evidence = None
    reviewers = reviewers_of(session, employee)
    if not reviewers:
        raise NotAllowed(texts.NO_REVIEWER)
    suggestion = Suggestion(
        employee_id=employee.id, department_id=employee.department_id, text=text,
        evidence_id=evidence.id if evidence else None, task_id=task.id if task else None,
        reviewer_id=reviewers[0].id, state=SuggestionState.OPEN, created_at=now,
    )  # fmt: skip
    suggestion.employee = employee
    session.add(suggestion)
    session.flush()
    due = now + RESPONSE_TIME
    asks.open_ask(
        session,
        kind=texts.REVIEW_KIND,
        subject=subject(suggestion.id),
        owner=reviewers[0],
        delegates=reviewers[1:],
        title=texts.TITLE.format(id=suggestion.id, name=employee.name, text=texts.snippet(text)),
        card=texts.review_card(
            suggestion, employee, task_title=task.title if task else None, due=due, tz=tz
        ),
        choices=texts.review_choices(suggestion.id),
        now=now,
        signer=signer,
        due_at=due,
        policy=POLICY,
        told_may_answer=True,
    )
    _audit(session, employee, "suggestion.submit", suggestion, {}, now)
    return suggestion


def _locked(session: Session, suggestion_id: int, *states: str) -> Suggestion:
    suggestion = session.get(
        Suggestion, suggestion_id, with_for_update=True, populate_existing=True
    )
    if suggestion is None:
        raise NotFound(texts.NOT_OPEN)
    if suggestion.state not in states:
        raise BotError(texts.NOT_OPEN)
    return suggestion


def respond(
    session: Session, suggestion_id: int, actor: Employee, choice: str, reason: str | None, *,
    now: datetime, signer: Signer,
) -> Suggestion:  # fmt: skip
    """The supervisor's answer: adopt (and ask later whether it was implemented), discuss, or
    decline with a reason; the author is told.

    Raises:
        BotError: answered already.
    """
    suggestion = _locked(session, suggestion_id, SuggestionState.OPEN, SuggestionState.DISCUSSING)
    if suggestion.employee_id == actor.id:
        raise NotAllowed(texts.NOT_YOURS)
    if suggestion.answered_at is None:
        suggestion.answered_at = now
    author = suggestion.employee
    if choice == "discuss":
        suggestion.state = SuggestionState.DISCUSSING
        text = texts.DISCUSSING.format(id=suggestion.id, name=actor.name)
        texts.tell_author(session, suggestion, text, now=now)
    elif choice == "adopt":
        suggestion.state, suggestion.decided_by_id, suggestion.decided_at = (
            SuggestionState.ADOPTED, actor.id, now,
        )  # fmt: skip
        rule = session.scalar(select(Rule).where(Rule.code == CREDIT_RULE))
        rule_name = f"{rule.code} {rule.title}" if rule else CREDIT_RULE
        texts.tell_author(
            session, suggestion,
            texts.ADOPTED.format(id=suggestion.id, name=actor.name, rule=rule_name), now=now,
        )  # fmt: skip
        _ask_implementation(session, suggestion, actor, rule, now=now, signer=signer)
    else:
        suggestion.state, suggestion.reason = SuggestionState.DECLINED, (reason or "")[:500]
        suggestion.decided_by_id, suggestion.decided_at = actor.id, now
        text = texts.DECLINED.format(id=suggestion.id, name=actor.name, reason=suggestion.reason)
        texts.tell_author(session, suggestion, text, now=now)
    _audit(session, actor, f"suggestion.{choice}", suggestion, {"author": author.employee_no}, now)
    session.flush()
    return suggestion


def _ask_implementation(
    session: Session, suggestion: Suggestion, actor: Employee, rule: Rule | None, *,
    now: datetime, signer: Signer,
) -> None:  # fmt: skip
    """Ask the adopter to say when the suggestion is implemented (no clock: 任务 lists it)."""
    author = suggestion.employee
    note = None
    if rule is not None and rule.active:
        award = award_for(session, rule, now).text()
        rule_name = f"{rule.code} {rule.title}"
        note = texts.IMPLEMENT_NOTE.format(name=author.name, rule=rule_name, award=award)
    asks.open_ask(
        session, kind=texts.IMPLEMENT_KIND, subject=subject(suggestion.id), owner=actor,
        title=texts.IMPLEMENT_TITLE.format(
            id=suggestion.id, name=author.name, text=texts.snippet(suggestion.text)
        ),
        card=texts.implement_card(suggestion, author, note=note),
        choices=texts.implement_choices(suggestion.id), now=now, signer=signer,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Implementation:
    """What 已实施 did: the A06 claim credited (None when the rule is off)."""

    suggestion: Suggestion
    claim: Claim | None


def implement(
    session: Session, suggestion_id: int, actor: Employee, *, now: datetime, tz: ZoneInfo,
    signer: Signer,
) -> Implementation:  # fmt: skip
    """已实施: credit rule A06 to the author as an approved claim (bonuses named) and tell them.

    Raises:
        BotError: not adopted (or implemented already).
    """
    suggestion = _locked(session, suggestion_id, SuggestionState.ADOPTED)
    suggestion.state, suggestion.implemented_at = SuggestionState.IMPLEMENTED, now
    rule = session.scalar(select(Rule).where(Rule.code == CREDIT_RULE))
    claim = None
    if rule is not None and rule.active:
        claim = Claim(
            employee=suggestion.employee, rule=rule, evidence_id=suggestion.evidence_id,
            note=texts.snippet(suggestion.text, 100), state=ClaimState.PENDING,
            approver=actor, created_at=now,
        )  # fmt: skip
        session.add(claim)
        session.flush()
        credit_claim(session, claim, actor, ClaimContext(now, tz, signer), tell=False)
        suggestion.claim_id = claim.id
        text = texts.IMPLEMENTED.format(
            id=suggestion.id, rule=f"{rule.code} {rule.title}",
            award=claim_award(session, claim).text(),
            balance=balance(session, suggestion.employee_id),
        )  # fmt: skip
    else:
        text = texts.IMPLEMENTED_NO_RULE.format(id=suggestion.id)
    texts.tell_author(session, suggestion, text, now=now)
    _audit(
        session, actor, "suggestion.implemented", suggestion, {"claim": suggestion.claim_id}, now
    )
    session.flush()
    return Implementation(suggestion, claim)


def drop(
    session: Session, suggestion_id: int, actor: Employee, reason: str, *, now: datetime
) -> Suggestion:
    """不实施 with a reason; the author is told.

    Raises:
        BotError: not adopted (or decided already).
    """
    suggestion = _locked(session, suggestion_id, SuggestionState.ADOPTED)
    suggestion.state, suggestion.reason = SuggestionState.DROPPED, (reason or "")[:500]
    text = texts.DROPPED.format(id=suggestion.id, name=actor.name, reason=suggestion.reason)
    texts.tell_author(session, suggestion, text, now=now)
    _audit(session, actor, "suggestion.drop", suggestion, {}, now)
    session.flush()
    return suggestion


def month_counts(
    session: Session, start: datetime, end: datetime, now: datetime
) -> list[dict[str, object]]:
    """Per department, suggestions made in [start, end): submitted, answered within 72 hours,
    late (answered after 72 h, or unanswered past 72 h), adopted (implemented included) and
    implemented, departments by name."""
    rows = session.scalars(
        select(Suggestion).where(Suggestion.created_at >= start, Suggestion.created_at < end)
    )
    names = {d.id: d.name for d in session.scalars(select(Department))}
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("submitted", "on_time", "late", "adopted", "implemented"), 0)
    )
    for s in rows:
        c = counts[names.get(s.department_id or 0, texts.NO_DEPARTMENT)]
        c["submitted"] += 1
        deadline = s.created_at + RESPONSE_TIME
        if s.answered_at is not None and s.answered_at <= deadline:
            c["on_time"] += 1
        elif (s.answered_at or now) > deadline:
            c["late"] += 1
        c["adopted"] += s.state in (SuggestionState.ADOPTED, SuggestionState.IMPLEMENTED,
                                    SuggestionState.DROPPED)  # fmt: skip
        c["implemented"] += s.state == SuggestionState.IMPLEMENTED
    return [{"dept": name, **c} for name, c in sorted(counts.items())]


def _audit(
    session: Session, actor: Employee, action: str, suggestion: Suggestion, detail: dict,
    now: datetime,
) -> None:  # fmt: skip
    session.add(
        AuditLog(actor_id=actor.id, action=action, object_type="suggestion",
                 object_id=str(suggestion.id), detail=detail, created_at=now)
    )  # fmt: skip
