"""Photo reuse (重复使用照片): index each evidence photo's fingerprints and find the claim an
earlier copy of it already backs, by content (sha256) or by look (bot/services/photohash.py).

The lookup asks the database only for rows sharing an exact band key with one of the new
photo's 32 probes (4 crops × 8 turns), so it reads a few hundred rows whether the table holds a
thousand photos or a million, and confirms each candidate on its 255-bit hash in Python.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import bindparam, or_, select, text
from sqlalchemy.orm import Session

from bot.models import Claim, ClaimState, Evidence, EvidenceHash
from bot.services.photohash import BANDS, FULL_MAX, PhotoHash, from_full, full_distance, turns

LIVE = (ClaimState.PENDING, ClaimState.APPROVED)
_BAND_COLUMNS = tuple(getattr(EvidenceHash, f"band{k}") for k in range(BANDS))


def index_photo(session: Session, evidence: Evidence, hashes: Iterable[PhotoHash]) -> None:
    """Store the fingerprints of a flushed evidence row."""
    session.add_all(hash_rows(evidence.id, hashes))
    session.flush()


def hash_rows(evidence_id: int, hashes: Iterable[PhotoHash]) -> list[EvidenceHash]:
    """EvidenceHash rows for `hashes`."""
    rows = []
    for h in hashes:
        keys = h.bands()
        rows.append(
            EvidenceHash(
                evidence_id=evidence_id,
                crop=h.crop,
                signs=h.full,
                **{f"band{k}": keys[k] for k in range(BANDS)},
            )
        )
    return rows


def lock_photo(session: Session, evidence: Evidence) -> None:
    """Serialize claims on byte-identical photos across transactions (PostgreSQL; SQLite
    writers are serialized already): two colleagues forwarding one picture and tapping at the
    same instant must not both get a claim out of it."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(bytes.fromhex(evidence.sha256[:16]), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def find_duplicate_claim(
    session: Session, evidence: Evidence, *, exclude_claim_id: int | None = None
) -> Claim | None:
    """The earliest pending or approved claim (anyone's, this very photo's included) whose photo
    is this one or a copy of it; claim `exclude_claim_id` is ignored.

    The same bytes win over a look-alike, even an earlier one.
    """
    exclude = -1 if exclude_claim_id is None else exclude_claim_id
    exact = session.scalars(
        _SAME_BYTES, {"evidence_id": evidence.id, "sha256": evidence.sha256, "exclude": exclude}
    ).first()
    if exact is not None:
        return exact
    similar = similar_evidence_ids(session, evidence)
    if not similar:
        return None
    return session.scalars(_CLAIM_ON, {"ids": similar, "exclude": exclude}).first()


def similar_evidence_ids(session: Session, evidence: Evidence) -> list[int]:
    """Other evidence rows whose photo looks like this one (mirrored, turned, cropped,
    re-encoded…), by their indexed fingerprints."""
    own = session.execute(_OWN_HASHES, {"evidence_id": evidence.id})
    probes = [t for crop, full in own for t in turns(from_full(crop, full))]
    return matching_evidence_ids(session, probes, exclude=evidence.id)


def matching_evidence_ids(
    session: Session, probes: list[PhotoHash], *, exclude: int | None = None
) -> list[int]:
    """Evidence ids with a stored crop within FULL_MAX of one of `probes`."""
    if not probes:
        return []
    by_band: list[dict[int, list[PhotoHash]]] = [defaultdict(list) for _ in range(BANDS)]
    for probe in probes:
        for k, key in enumerate(probe.keys):
            by_band[k][key].append(probe)
    params: dict[str, object] = {f"k{k}": list(by_band[k]) for k in range(BANDS)}
    params["exclude"] = -1 if exclude is None else exclude
    found: set[int] = set()
    for evidence_id, full, *keys in session.execute(_BAND_MATCHES, params):
        if evidence_id in found:
            continue
        candidates = {id(p): p for k, key in enumerate(keys) for p in by_band[k].get(key, ())}
        if any(full_distance(full, p.full) <= FULL_MAX for p in candidates.values()):
            found.add(evidence_id)
    return sorted(found)


# Built once: the statements stay in SQLAlchemy's compiled cache and only the values change.
_LIVE_OTHER = (Claim.state.in_(LIVE), Claim.id != bindparam("exclude"))
_SAME_BYTES = (
    select(Claim)
    .where(
        *_LIVE_OTHER,
        # Evidence ids first (primary key or sha256 index), then their claims: an OR across the
        # join would read every claim.
        Claim.evidence_id.in_(
            select(Evidence.id).where(
                or_(Evidence.id == bindparam("evidence_id"), Evidence.sha256 == bindparam("sha256"))
            )
        ),
    )
    .order_by(Claim.created_at, Claim.id)
    .limit(1)
)
_CLAIM_ON = (
    select(Claim)
    .where(*_LIVE_OTHER, Claim.evidence_id.in_(bindparam("ids", expanding=True)))
    .order_by(Claim.created_at, Claim.id)
    .limit(1)
)
_OWN_HASHES = select(EvidenceHash.crop, EvidenceHash.signs).where(
    EvidenceHash.evidence_id == bindparam("evidence_id")
)
_BAND_MATCHES = select(EvidenceHash.evidence_id, EvidenceHash.signs, *_BAND_COLUMNS).where(
    or_(*(c.in_(bindparam(f"k{k}", expanding=True)) for k, c in enumerate(_BAND_COLUMNS))),
    EvidenceHash.evidence_id != bindparam("exclude"),
)
