"""Evidence benchmark (issue 15): photo reuse on real photographs.

Every photograph (bench/_photos.py: Debian packages, ~110 photos, none drawn) is stored as
evidence behind an approved claim through the real `store_photo`. Then each altered copy is
stored by another worker and checked with the real `find_duplicate_claim`:

* caught: the copy finds its own original's claim (goal >= 99 % on the required copies);
* confused: a photo finds a claim of a *different* photograph (goal < 1 %), counted for the
  originals against each other and for every copy;
* time per check: the fingerprint of the decoded photo plus the lookup, against today's check
  measured in the same run (the 64-bit pHash and the Python scan over every claim's pHash
  within 6 bits, which `find_duplicate_claim` did before);
* lookup with 1M indexed photos: synthetic fingerprint rows (4 crops each, so 4M rows) plus
  the real ones, on PostgreSQL (or SQLite), against today's scan over 1M claims.

Photos are first scaled to at most 1600 px (what messengers send). Benchmarks print; they
never assert.

    python -m bench evidence                          # 1M indexed photos on PostgreSQL
    python -m bench evidence --index-size 100000 --backend sqlite
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageEnhance, ImageOps
from sqlalchemy import create_engine, func, make_url, or_, select, text
from sqlalchemy.orm import Session

from bench._photos import photo_paths
from bot.db import ROOT, bulk_insert, make_engine, make_session_factory, upgrade
from bot.models import Claim, ClaimState, Employee, Evidence, EvidenceHash, Rule
from bot.services.evidence import find_duplicate_claim, store_photo
from bot.services.photohash import BANDS, CROPS, LOW, photo_hashes, turns
from bot.services.reuse import matching_evidence_ids

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
MAX_SIDE = 1600
GOAL_CAUGHT = 99.0
GOAL_CONFUSED = 1.0
OLD_PHASH_DISTANCE = 6
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHUNK = 100_000


def _jpeg(img: Image.Image, quality: int = 85, **options: object) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, **options)
    return buf.getvalue()


def _crop(img: Image.Image, fraction: float) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * (1 - fraction) / 2), round(h * (1 - fraction) / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def _border(img: Image.Image, fraction: float) -> Image.Image:
    w, h = img.size
    return ImageOps.expand(img, (round(w * fraction), round(h * fraction)), fill="white")


def _exif_turned(img: Image.Image) -> bytes:
    exif = Image.Exif()
    exif[274] = 6  # shown turned a quarter: stored upright, i.e. turned
    return _jpeg(img, exif=exif)


REQUIRED: dict[str, Callable[[Image.Image], bytes]] = {
    "re-encoded q70": lambda im: _jpeg(im, 70),
    "resized 50%": lambda im: _jpeg(im.resize((im.width // 2, im.height // 2))),
    "cropped 5%": lambda im: _jpeg(_crop(im, 0.95)),
    "cropped 10%": lambda im: _jpeg(_crop(im, 0.90)),
    "cropped 20%": lambda im: _jpeg(_crop(im, 0.80)),
    "brightness +20%": lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(1.2)),
    "brightness -20%": lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(0.8)),
    "mirrored": lambda im: _jpeg(ImageOps.mirror(im)),
    "rotated 90°": lambda im: _jpeg(im.transpose(Image.Transpose.ROTATE_90)),
    "bordered 5%": lambda im: _jpeg(_border(im, 0.05)),
    "EXIF orientation": _exif_turned,
}
# Not asked for; shown so the limits are known.
EXTRA: dict[str, Callable[[Image.Image], bytes]] = {
    "rotated 2°": lambda im: _jpeg(im.rotate(2, resample=Image.Resampling.BICUBIC)),
    "cropped 13% (between crops)": lambda im: _jpeg(_crop(im, 0.87)),
    "bordered 10%": lambda im: _jpeg(_border(im, 0.10)),
}


def _load(path: Path) -> Image.Image:
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img).convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return img


def _decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def _old_check(session: Session, img: Image.Image) -> int | None:
    """Today's check before this change: pHash, then a Python scan over every claim's pHash."""
    target = int(str(imagehash.phash(img)), 16)
    rows = session.execute(
        select(Claim.id, Evidence.phash)
        .join(Evidence, Claim.evidence_id == Evidence.id)
        .where(Claim.state.in_((ClaimState.PENDING, ClaimState.APPROVED)))
        .order_by(Claim.created_at, Claim.id)
    ).all()
    for claim_id, other in rows:
        if other and (target ^ int(other, 16)).bit_count() <= OLD_PHASH_DISTANCE:
            return claim_id
    return None


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _employee(session: Session, no: str) -> Employee:
    e = Employee(employee_no=no, name=no, created_at=NOW)
    session.add(e)
    session.flush()
    return e


def measure_rates(paths: list[Path], media: Path, url: str) -> dict[str, object]:
    """Store every photo behind a claim, then check every copy; rates and check times."""
    upgrade(url)
    engine = make_engine(url)
    session = make_session_factory(engine)()
    owner, other = _employee(session, "B0001"), _employee(session, "B0002")
    rule_id = session.scalar(select(Rule.id).where(Rule.code == "A01"))
    originals: list[Image.Image] = []
    evidence_ids: list[int] = []
    old_claim_of: dict[int, int] = {}
    for path in paths:
        img = _load(path)
        ev = store_photo(session, media, owner, _jpeg(img, 90), source="bench", now=NOW)
        claim = Claim(
            employee_id=owner.id, rule_id=rule_id, evidence_id=ev.id,
            state=ClaimState.APPROVED, created_at=NOW,
        )  # fmt: skip
        session.add(claim)
        session.flush()
        originals.append(img)
        evidence_ids.append(ev.id)
        old_claim_of[claim.id] = ev.id
    session.commit()

    confused_photos, confused_pairs, old_confused = 0, 0, 0
    for i, img in enumerate(originals):
        probes = [t for h in photo_hashes(img) for t in turns(h)]
        others = set(matching_evidence_ids(session, probes)) - {evidence_ids[i]}
        confused_photos += bool(others)
        confused_pairs += len(others)
        found = _old_check_excluding(session, img, evidence_ids[i], old_claim_of)
        old_confused += found

    results: dict[str, dict[str, float]] = {}
    new_times: list[float] = []
    old_times: list[float] = []
    for name, make in {**REQUIRED, **EXTRA}.items():
        caught = wrong = old_caught = 0
        for i, img in enumerate(originals):
            data = make(img)
            ev = store_photo(session, media, other, data, source="bench", now=NOW)
            decoded = _decoded(data)
            t0 = time.perf_counter()
            photo_hashes(decoded)
            claim = find_duplicate_claim(session, ev)
            new_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            old = _old_check(session, decoded)
            old_times.append(time.perf_counter() - t0)
            session.rollback()
            if claim is not None:
                caught += claim.evidence_id == evidence_ids[i]
                wrong += claim.evidence_id != evidence_ids[i]
            old_caught += old is not None and old_claim_of[old] == evidence_ids[i]
        n = len(originals)
        results[name] = {
            "caught": 100 * caught / n,
            "wrong": 100 * wrong / n,
            "old_caught": 100 * old_caught / n,
        }
    session.close()
    engine.dispose()
    n = len(originals)
    return {
        "photos": n,
        "results": results,
        "confused_photos": 100 * confused_photos / n,
        "confused_pairs": confused_pairs,
        "pairs": n * (n - 1),
        "old_confused": 100 * old_confused / n,
        "new_ms": _median_ms(new_times),
        "old_ms": _median_ms(old_times),
        "checks": len(new_times),
    }


def _old_check_excluding(
    session: Session, img: Image.Image, own: int, claim_to_evidence: dict[int, int]
) -> bool:
    """Whether today's pHash scan matches a photo other than `own` (distinct photos)."""
    target = int(str(imagehash.phash(img)), 16)
    rows = session.execute(select(Evidence.id, Evidence.phash).where(Evidence.id != own)).all()
    claimed = set(claim_to_evidence.values())
    return any(
        eid in claimed and p and (target ^ int(p, 16)).bit_count() <= OLD_PHASH_DISTANCE
        for eid, p in rows
    )


# --- 1M indexed photos --------------------------------------------------------------------


def _low_positions() -> np.ndarray:
    mask = np.zeros((16, 16), dtype=bool)
    mask[:LOW, :LOW] = True
    mask[0, 0] = False
    return np.flatnonzero(mask.reshape(-1))


def _band_keys(fulls: np.ndarray) -> np.ndarray:
    """photohash.bands for many `full` hashes at once (n × 32 bytes -> n × BANDS)."""
    bits = np.unpackbits(fulls, axis=1)[:, _low_positions()].astype(np.int64)
    n_low = bits.shape[1]
    keys = np.zeros((len(fulls), BANDS), dtype=np.int64)
    for k in range(BANDS):
        for i, pos in enumerate(range(k, n_low, BANDS)):
            keys[:, k] |= bits[:, n_low - 1 - pos] << i
    return keys


def fill_index(session: Session, photos: int, log) -> None:
    """`photos` synthetic evidence rows, each with a claim and CROPS fingerprint rows."""
    rng = np.random.default_rng(20261126)
    employee = _employee(session, "S0001")
    rule_id = session.scalar(select(Rule.id).where(Rule.code == "A01"))
    session.commit()
    first = (session.scalar(select(Evidence.id).order_by(Evidence.id.desc()).limit(1)) or 0) + 1
    started = time.perf_counter()
    for start in range(0, photos, CHUNK):
        ids = range(first + start, first + min(start + CHUNK, photos))
        evidence = [
            {"id": i, "employee_id": employee.id, "sha256": f"{i:064x}",
             "phash": f"{random.getrandbits(64):016x}", "mime_type": "image/jpeg",
             "size": 1, "width": 1, "height": 1, "storage_key": f"synthetic/{i}",
             "source": "bench", "created_at": NOW}
            for i in ids
        ]  # fmt: skip
        claims = [
            {"id": i, "employee_id": employee.id, "rule_id": rule_id, "evidence_id": i,
             "state": ClaimState.APPROVED, "created_at": NOW}
            for i in ids
        ]  # fmt: skip
        fulls = rng.integers(0, 256, size=(len(ids) * len(CROPS), 32), dtype=np.uint8)
        fulls[:, 0] &= 0x7F  # the DC bit is always 0
        keys = _band_keys(fulls)
        hashes = [
            {"evidence_id": ids[j // len(CROPS)], "crop": CROPS[j % len(CROPS)],
             "signs": fulls[j].tobytes(), **{f"band{k}": int(keys[j, k]) for k in range(BANDS)}}
            for j in range(len(fulls))
        ]  # fmt: skip
        bulk_insert(session, Evidence, evidence)
        bulk_insert(session, Claim, claims)
        bulk_insert(session, EvidenceHash, hashes)
        session.commit()
        log(f"  {start + len(ids):>9,} photos indexed ({time.perf_counter() - started:.0f} s)")
    if session.get_bind().dialect.name == "postgresql":
        for table in ("evidence", "claims", "evidence_hashes"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))  # fmt: skip
        session.commit()
        session.connection().exec_driver_sql("ANALYZE")
    else:
        session.execute(text("ANALYZE"))
    session.commit()


def measure_index(paths: list[Path], url: str, size: int, media: Path, log) -> dict[str, float]:
    """Lookup times with `size` synthetic photos indexed, plus the real ones."""
    upgrade(url)
    engine = make_engine(url)
    session = make_session_factory(engine)()
    fill_index(session, size, log)
    owner = _employee(session, "R0001")
    rule_id = session.scalar(select(Rule.id).where(Rule.code == "A01"))
    originals = []
    for path in paths:
        img = _load(path)
        ev = store_photo(session, media, owner, _jpeg(img, 90), source="bench", now=NOW)
        session.add(Claim(employee_id=owner.id, rule_id=rule_id, evidence_id=ev.id,
                          state=ClaimState.APPROVED, created_at=NOW))  # fmt: skip
        originals.append((img, ev.id))
    session.commit()
    rows = session.scalar(select(func.count()).select_from(EvidenceHash))
    checks, lookups, candidates, found = [], [], [], 0
    other = _employee(session, "R0002")
    session.commit()
    for img, own in originals:
        data = _jpeg(_crop(img, 0.9), 80)
        ev = store_photo(session, media, other, data, source="bench", now=NOW)
        probes = [t for h in photo_hashes(_decoded(data)) for t in turns(h)]
        t0 = time.perf_counter()
        ids = matching_evidence_ids(session, probes)
        lookups.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        claim = find_duplicate_claim(session, ev)
        checks.append(time.perf_counter() - t0)
        session.rollback()
        found += own in ids and claim is not None and claim.evidence_id == own
        candidates.append(_candidates(session, probes))
    old = []
    for img, _own in originals[:5]:
        t0 = time.perf_counter()
        _old_check(session, img)
        old.append(time.perf_counter() - t0)
    session.close()
    engine.dispose()
    return {
        "rows": rows,
        "lookup_ms": _median_ms(lookups),
        "check_ms": _median_ms(checks),
        "lookup_p95_ms": sorted(lookups)[int(0.95 * len(lookups))] * 1000,
        "candidates": statistics.median(candidates),
        "found": 100 * found / len(originals),
        "old_ms": _median_ms(old),
    }


def _candidates(session: Session, probes) -> int:
    """Rows the band query reads for `probes`."""
    by_band: list[set[int]] = [set() for _ in range(BANDS)]
    for p in probes:
        for k, key in enumerate(p.bands()):
            by_band[k].add(key)
    columns = [getattr(EvidenceHash, f"band{k}") for k in range(BANDS)]
    return int(
        session.scalar(
            select(func.count())
            .select_from(EvidenceHash)
            .where(or_(*(c.in_(list(by_band[k])) for k, c in enumerate(columns))))
        )
    )


def _private_pg(base: str) -> tuple[str, Callable[[], None]] | None:
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        name = f"bench_evidence_{os.getpid()}_{secrets.token_hex(2)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: the caller falls back to SQLite
        print(f"PostgreSQL unavailable ({type(exc).__name__}); using SQLite")
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(base).set(database=name).render_as_string(hide_password=False), drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench evidence")
    parser.add_argument("--index-size", type=int, default=1_000_000, help="synthetic photos")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench" / "photos")
    parser.add_argument("--index-only", action="store_true", help="skip the rates on the photo set")
    args = parser.parse_args(argv)
    print("photographs (Debian packages):")
    paths, used = photo_paths(args.cache)
    print(f"  {len(paths)} photos from {', '.join(used)}")
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        tmp_path = Path(tmp)
        if not args.index_only:
            r = measure_rates(paths, tmp_path / "media", f"sqlite:///{tmp_path / 'rates.db'}")
            _print_rates(r)
        url, drop = f"sqlite:///{tmp_path / 'index.db'}", None
        if args.backend == "postgresql":
            pg = _private_pg(args.pg_url)
            if pg is not None:
                url, drop = pg
        print(
            f"\nlookup with {args.index_size:,} indexed photos ({make_url(url).get_backend_name()}):"
        )
        try:
            ix = measure_index(paths, url, args.index_size, tmp_path / "media2", print)
        finally:
            if drop is not None:
                drop()
    print(
        f"  fingerprint rows: {ix['rows']:,}; rows read per lookup (median): {ix['candidates']:,.0f}"
    )
    print(f"  band lookup median {ix['lookup_ms']:.2f} ms (p95 {ix['lookup_p95_ms']:.2f} ms); "
          f"whole find_duplicate_claim median {ix['check_ms']:.2f} ms; "
          f"90 % crops of the real photos found: {ix['found']:.1f} %")  # fmt: skip
    print(f"  baseline (today's pHash scan over every claim) median {ix['old_ms']:.0f} ms; "
          f"ratio find_duplicate_claim/baseline {ix['check_ms'] / ix['old_ms']:.4f}")  # fmt: skip
    return 0


def _print_rates(r: dict) -> None:
    n = r["photos"]
    print(f"\ncopies caught ({n} photos each; goal >= {GOAL_CAUGHT:.0f} %), new vs today's pHash:")
    required = [r["results"][k]["caught"] for k in REQUIRED]
    for name, v in r["results"].items():
        mark = "" if name in REQUIRED else "   (not required)"
        print(f"  {name:<28} {v['caught']:6.1f} %   wrong photo {v['wrong']:4.1f} %   "
              f"today {v['old_caught']:6.1f} %{mark}")  # fmt: skip
    print(
        f"  required copies overall: {statistics.mean(required):.2f} % (lowest {min(required):.1f} %)"
    )
    print(f"distinct photos confused (goal < {GOAL_CONFUSED:.0f} %): {r['confused_photos']:.2f} % "
          f"of photos, {r['confused_pairs']} of {r['pairs']:,} ordered pairs; "
          f"today's pHash: {r['old_confused']:.2f} %")  # fmt: skip
    print(f"time per check (median over {r['checks']:,} checks, {n} claims indexed): "
          f"new {r['new_ms']:.2f} ms, today's {r['old_ms']:.2f} ms, "
          f"ratio {r['new_ms'] / r['old_ms']:.2f}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
