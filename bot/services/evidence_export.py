"""The evidence chain of one employee for an appeal (证据链导出), as one zip: their claims'
photos, an xlsx index of claims, decisions, appeals and ledger entries, and the signed
hash-chain proof of those entries (`chain-proof.json`, which `python -m bot ledger verify
--checkpoint` checks). `python -m bot evidence export` and the console's download both call
`export_evidence`, so they hand out the same file.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.models import (
    Appeal,
    AppealState,
    AuditLog,
    Campaign,
    Claim,
    Employee,
    Evidence,
    LedgerEntry,
    Rule,
)
from bot.notices import export as texts
from bot.services.checkpoints import EmptyLedger
from bot.services.evidence import read_photo
from bot.services.ledger import ChainProof, prove_employee_entries

DEFAULT_MONTHS = 3
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclass(frozen=True)
class EvidenceExport:
    """An export: the zip's bytes, a file name to offer, and what it holds."""

    data: bytes
    filename: str
    claims: int
    photos: int
    appeals: int
    entries: int
    proof: ChainProof | None


def window_start(now: datetime, tz: ZoneInfo, months: int) -> datetime:
    """Local midnight `months` calendar months before `now`'s day (the 31st → the month's
    last day), in UTC."""
    today = now.astimezone(tz).date()
    year, month0 = divmod(today.year * 12 + today.month - 1 - months, 12)
    day = min(today.day, calendar.monthrange(year, month0 + 1)[1])
    return datetime.combine(date(year, month0 + 1, day), time(), tz).astimezone(UTC)


def export_evidence(
    session: Session,
    employee: Employee,
    *,
    now: datetime,
    tz: ZoneInfo,
    media_dir: Path,
    months: int = DEFAULT_MONTHS,
) -> EvidenceExport:
    """The employee's evidence chain for the last `months` months, as zip bytes.

    Claims made in the window and those appealed in it; their photos (a missing file is
    marked in the index, not fatal); every audit record of those claims and appeals; the
    ledger entries of the window up to the proof's checkpoint, with their proof.

    Raises:
        ProofRefused: an entry no longer matches its hash (run `ledger verify`).
        LedgerKeyError: the session carries no ledger key.
    """
    since = window_start(now, tz, months)
    appealed = select(Appeal.claim_id).where(
        Appeal.employee_id == employee.id, Appeal.created_at >= since
    )
    claims = list(
        session.scalars(
            select(Claim)
            .where(Claim.employee_id == employee.id,
                   or_(Claim.created_at >= since, Claim.id.in_(appealed)))
            .order_by(Claim.created_at, Claim.id)
        )
    )  # fmt: skip
    claim_ids = [c.id for c in claims]
    appeals = list(
        session.scalars(
            select(Appeal).where(Appeal.claim_id.in_(claim_ids)).order_by(Appeal.created_at)
        )
    )
    try:
        proof = prove_employee_entries(session, employee.id, since=since, at=now.astimezone(tz))
    except EmptyLedger:
        proof = None
    entries = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.employee_id == employee.id, LedgerEntry.created_at >= since,
                   LedgerEntry.seq <= (proof.checkpoint.seq if proof else 0))
            .order_by(LedgerEntry.seq)
        )
    )  # fmt: skip
    audits = _audits(session, claim_ids, [a.id for a in appeals])
    photos = _photos(session, media_dir, claims)
    local = {"start": _stamp(since, tz), "end": _stamp(now, tz)}
    book = _Index(session, tz)
    book.summary(employee, months, local, claims, photos, appeals, entries, proof)
    book.claims(claims, photos)
    book.decisions(audits)
    book.appeals(appeals)
    book.ledger(entries, appeals)
    files: list[tuple[str, bytes, int]] = [
        (texts.README_NAME, _readme(employee, local).encode(), zipfile.ZIP_DEFLATED),
        (texts.INDEX_NAME, book.save(now, tz), zipfile.ZIP_DEFLATED),
    ]
    if proof is not None:
        files.append((texts.PROOF_NAME, proof.to_json().encode(), zipfile.ZIP_DEFLATED))
    for name, data in sorted({p.name: p.data for p in photos.values() if p.data}.items()):
        files.append((name, data, zipfile.ZIP_STORED))  # photos do not compress further
    stamp = now.astimezone(tz)
    return EvidenceExport(
        data=_zip(files, stamp),
        filename=texts.FILENAME.format(
            employee_no=_UNSAFE.sub("_", employee.employee_no), stamp=stamp.strftime("%Y%m%d-%H%M")
        ),
        claims=len(claims),
        photos=sum(1 for p in photos.values() if p.data),
        appeals=len(appeals),
        entries=len(entries),
        proof=proof,
    )


@dataclass(frozen=True)
class _Photo:
    name: str
    data: bytes | None  # None: the file is gone from the media directory
    sha256: str


def _photos(session: Session, media_dir: Path, claims: Sequence[Claim]) -> dict[int, _Photo]:
    """Each claimed photo's file name in the zip and its stored bytes, by evidence id."""
    out: dict[int, _Photo] = {}
    for claim in claims:
        evidence = claim.evidence
        if evidence is None or evidence.id in out:
            continue
        ext = _EXTENSIONS.get(evidence.mime_type, "bin")
        name = texts.PHOTO_NAME.format(evidence_id=evidence.id, ext=ext)
        try:
            data: bytes | None = read_photo(media_dir, evidence)
        except (OSError, ValueError):
            data = None
        digest = hashlib.sha256(data).hexdigest() if data is not None else ""
        out[evidence.id] = _Photo(name, data, digest)
    return out


def _audits(session: Session, claim_ids: list[int], appeal_ids: list[int]) -> list[AuditLog]:
    """Every audit record of these claims and appeals, oldest first."""
    conditions = []
    if claim_ids:
        conditions.append(
            (AuditLog.object_type == "claim") & AuditLog.object_id.in_([str(i) for i in claim_ids])
        )
    if appeal_ids:
        conditions.append(
            (AuditLog.object_type == "appeal")
            & AuditLog.object_id.in_([str(i) for i in appeal_ids])
        )
    if not conditions:
        return []
    return list(
        session.scalars(select(AuditLog).where(or_(*conditions)).order_by(AuditLog.created_at,
                                                                          AuditLog.id))
    )  # fmt: skip


def _stamp(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _readme(employee: Employee, local: dict[str, str]) -> str:
    return texts.README.format(name=employee.name, employee_no=employee.employee_no, **local)


def _zip(files: Iterable[tuple[str, bytes, int]], stamp: datetime) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, method in files:
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = method
            archive.writestr(info, data)
    return buffer.getvalue()


class _Index:
    """The xlsx index: one sheet per kind of record, times in the factory's zone."""

    def __init__(self, session: Session, tz: ZoneInfo):
        self.session, self.tz = session, tz
        self.book = Workbook()
        self._first = True

    # -- values ------------------------------------------------------------------------------

    def _name(self, employee_id: int | None) -> str:
        person = self.session.get(Employee, employee_id) if employee_id else None
        return person.name if person else ""

    def _time(self, when: datetime | None) -> datetime | None:
        return when.astimezone(self.tz).replace(tzinfo=None) if when else None

    def _sheet(self, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        sheet = self.book.active if self._first else self.book.create_sheet()
        self._first = False
        sheet.title = title
        sheet.append(list(headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        widths = [len(h) * 2 + 2 for h in headers]
        for row in rows:
            sheet.append(list(row))
            for i, cell in enumerate(sheet[sheet.max_row]):
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    # A reason typed as "=HYPERLINK(…)" stays text, never a formula.
                    cell.data_type = "s"
                elif isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                width = 18 if isinstance(cell.value, datetime) else len(str(cell.value or "")) + 2
                widths[i] = min(max(widths[i], width), 60)
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
        sheet.freeze_panes = "A2"

    def save(self, now: datetime, tz: ZoneInfo) -> bytes:
        self.book.properties.created = self.book.properties.modified = self._time(now)
        buffer = io.BytesIO()
        self.book.save(buffer)
        return buffer.getvalue()

    # -- sheets ------------------------------------------------------------------------------

    def summary(self, employee: Employee, months: int, local: dict[str, str],
                claims: Sequence[Claim], photos: dict[int, _Photo], appeals: Sequence[Appeal],
                entries: Sequence[LedgerEntry], proof: ChainProof | None) -> None:  # fmt: skip
        values = {
            "employee_no": employee.employee_no, "name": employee.name,
            "department": employee.department.path if employee.department else "-",
            "months": months, "claims": len(claims), "appeals": len(appeals),
            "photos": sum(1 for p in photos.values() if p.data), "entries": len(entries),
            "points": sum(e.points for e in entries),
            "proof": texts.PROOF_AT.format(seq=proof.checkpoint.seq, at=proof.checkpoint.at)
            if proof else texts.NO_PROOF, **local,
        }  # fmt: skip
        rows = [(label, value.format(**values)) for label, value in texts.SUMMARY_ROWS]
        self._sheet(texts.SHEET_SUMMARY, texts.SUMMARY_HEADERS, rows)

    def claims(self, claims: Sequence[Claim], photos: dict[int, _Photo]) -> None:
        rows = []
        for c in claims:
            photo = photos.get(c.evidence_id) if c.evidence_id else None
            evidence: Evidence | None = c.evidence
            file = (
                (photo.name + ("" if photo.data else texts.PHOTO_MISSING)) if photo else texts.NONE
            )
            rows.append((
                c.id, self._time(c.created_at), c.rule.code, c.rule.title, c.rule.points, c.note,
                texts.CLAIM_STATES.get(c.state, c.state), self._name(c.decided_by_id),
                self._time(c.decided_at), c.reason, c.points_credited, file,
                photo.sha256 if photo else None, evidence.sha256 if evidence else None,
                self._time(evidence.taken_at) if evidence else None,
            ))  # fmt: skip
        self._sheet(texts.SHEET_CLAIMS, texts.CLAIM_HEADERS, rows)

    def decisions(self, audits: Sequence[AuditLog]) -> None:
        rows = []
        for a in audits:
            detail = "；".join(
                f"{texts.DETAIL_KEYS.get(k, k)}={v}" for k, v in (a.detail or {}).items()
            )
            template = texts.OBJECTS.get(a.object_type, a.object_type + " #{id}")
            rows.append((
                self._time(a.created_at), texts.ACTIONS.get(a.action, a.action),
                template.format(id=a.object_id), self._name(a.actor_id) or texts.SYSTEM, detail,
            ))  # fmt: skip
        self._sheet(texts.SHEET_DECISIONS, texts.DECISION_HEADERS, rows)

    def appeals(self, appeals: Sequence[Appeal]) -> None:
        rows = [
            (
                a.id, a.claim_id, self._time(a.created_at), a.reason, self._name(a.rejected_by_id),
                self._time(a.rejected_at), a.rejection_reason, self._name(a.reviewer_id),
                self._time(a.due_at), texts.APPEAL_STATES.get(a.state, a.state),
                self._name(a.decided_by_id), self._time(a.decided_at), a.decision_reason,
                a.points_credited, a.ledger_entry.seq if a.ledger_entry else None,
            )
            for a in appeals
        ]  # fmt: skip
        self._sheet(texts.SHEET_APPEALS, texts.APPEAL_HEADERS, rows)

    def ledger(self, entries: Sequence[LedgerEntry], appeals: Sequence[Appeal]) -> None:
        overturned = {a.claim_id: a.id for a in appeals if a.state == AppealState.OVERTURNED}
        seqs = {e.id: e.seq for e in entries}
        rows = []
        for e in entries:
            rule = self.session.get(Rule, e.rule_id) if e.rule_id else None
            campaign = self.session.get(Campaign, e.campaign_id) if e.campaign_id else None
            reversed_seq = None
            if e.reversal_of_id is not None:
                reversed_seq = (
                    seqs.get(e.reversal_of_id)
                    or self.session.get(LedgerEntry, e.reversal_of_id).seq
                )
            rows.append((
                e.seq, self._time(e.created_at), e.points, texts.ENTRY_KINDS.get(e.kind, e.kind),
                e.category, e.memo, e.claim_id, overturned.get(e.claim_id),
                rule.code if rule else None, campaign.name if campaign else None, reversed_seq,
                self._name(e.created_by_id) or texts.SYSTEM, e.hash,
            ))  # fmt: skip
        self._sheet(texts.SHEET_LEDGER, texts.LEDGER_HEADERS, rows)
