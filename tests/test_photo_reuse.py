"""Photo reuse (重复使用照片): a used photo comes back cropped, framed, mirrored, turned or
re-saved with an orientation tag, and is still found; different photos stay apart."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from PIL import Image, ImageOps
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from bot.db import alembic_config, make_engine, make_session_factory, upgrade
from bot.models import ClaimState, EvidenceHash
from bot.services.evidence import find_duplicate_claim, photo_path, store_photo
from bot.services.photohash import CROPS, bands, photo_hashes, turns
from tests.factories import make_claim, make_employee

NOW = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
ORIENTATION = 274


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


def scene(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A photo-like picture: coloured noise with a natural image's 1/f spectrum (large soft
    shapes and fine texture), different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    radius[0, 0] = 1.0
    layers = []
    for _ in range(3):
        spectrum = (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / radius**1.2
        layer = np.real(np.fft.ifft2(spectrum))
        layers.append((layer - layer.mean()) / layer.std())
    luma = layers[0]
    rgb = np.stack([luma + 0.4 * layers[1], luma, luma + 0.4 * layers[2]], axis=-1)
    rgb = np.clip(128 + 40 * rgb, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def jpeg(img: Image.Image, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88, **options)
    return buf.getvalue()


def centre_crop(img: Image.Image, fraction: float) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * (1 - fraction) / 2), round(h * (1 - fraction) / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def with_orientation(img: Image.Image, tag: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = tag
    return jpeg(img, exif=exif)


COPIES: dict[str, Callable[[Image.Image], bytes]] = {
    "crop95": lambda img: jpeg(centre_crop(img, 0.95)),
    "crop90": lambda img: jpeg(centre_crop(img, 0.90)),
    "crop80": lambda img: jpeg(centre_crop(img, 0.80)),
    "border5": lambda img: jpeg(ImageOps.expand(img, (40, 30), fill="white")),
    "mirrored": lambda img: jpeg(ImageOps.mirror(img)),
    "rotated90": lambda img: jpeg(img.transpose(Image.Transpose.ROTATE_90)),
    # The same pixels, shown turned by the tag: stored upright, i.e. turned.
    "exif_tag_only": lambda img: with_orientation(img, 6),
    # Turned pixels with the tag that turns them back: stored as the original.
    "exif_turned_back": lambda img: with_orientation(img.transpose(Image.Transpose.ROTATE_90), 6),
    "rotated2deg": lambda img: jpeg(img.rotate(2, resample=Image.Resampling.BICUBIC)),
    "half_size": lambda img: jpeg(img.resize((400, 300), Image.Resampling.LANCZOS)),
}


@pytest.mark.parametrize("copy", list(COPIES), ids=list(COPIES))
def test_a_used_photo_is_found_again_when_altered(session: Session, media: Path, copy: str) -> None:
    first_worker, second_worker = make_employee(session), make_employee(session)
    original = scene(7)
    used = store_photo(session, media, first_worker, jpeg(original), source="x", now=NOW)
    claim = make_claim(session, employee=first_worker, evidence=used, state=ClaimState.APPROVED)

    again = store_photo(session, media, second_worker, COPIES[copy](original), source="x", now=NOW)

    assert again.sha256 != used.sha256
    assert find_duplicate_claim(session, again) == claim


def test_distinct_photos_stay_apart(session: Session, media: Path) -> None:
    worker = make_employee(session)
    for seed in range(20, 32):
        ev = store_photo(session, media, worker, jpeg(scene(seed)), source="x", now=NOW)
        make_claim(session, employee=worker, evidence=ev)

    others = [
        store_photo(session, media, worker, jpeg(scene(seed)), source="x", now=NOW)
        for seed in range(40, 52)
    ]

    assert [find_duplicate_claim(session, ev) for ev in others] == [None] * len(others)


def test_each_stored_photo_is_indexed_by_crop(session: Session, media: Path) -> None:
    ev = store_photo(session, media, make_employee(session), jpeg(scene(3)), source="x", now=NOW)

    rows = session.scalars(select(EvidenceHash).where(EvidenceHash.evidence_id == ev.id)).all()

    assert sorted(r.crop for r in rows) == sorted(CROPS)
    assert all(len(r.signs) == 32 for r in rows)


def test_a_plain_photo_gets_no_perceptual_hashes() -> None:
    # Plain pictures all hash alike; they are matched byte for byte only.
    assert photo_hashes(Image.new("RGB", (640, 480), (12, 12, 14))) == []


@pytest.mark.parametrize(
    "turn",
    [
        Image.Transpose.FLIP_LEFT_RIGHT,
        Image.Transpose.FLIP_TOP_BOTTOM,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_180,
        Image.Transpose.ROTATE_270,
        Image.Transpose.TRANSPOSE,
        Image.Transpose.TRANSVERSE,
    ],
    ids=lambda t: t.name.lower(),
)
def test_turning_the_photo_is_one_of_the_hash_turns(turn: Image.Transpose) -> None:
    img = scene(5)
    (stored, *_) = photo_hashes(img)
    (turned, *_) = photo_hashes(img.transpose(turn))

    assert turned.full in {t.full for t in turns(stored)}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, not yet migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    url = request.getfixturevalue("pg_database")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_upgrade_fingerprints_photos_stored_before_it(
    empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = empty_url
    media = tmp_path / "media"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        worker = make_employee(s)
        used = store_photo(s, media, worker, jpeg(scene(9)), source="x", now=NOW)
        gone = store_photo(s, media, worker, jpeg(scene(10)), source="x", now=NOW)
        make_claim(s, employee=worker, evidence=used)
        photo_path(media, gone).unlink()
        used_id = used.id
        s.commit()
    engine.dispose()
    # Back to before fingerprints, as a factory running 0007 has it, then up again.
    command.downgrade(alembic_config(url), "0007")
    monkeypatch.setenv("BOT_MEDIA_DIR", str(media))
    upgrade(url)

    raw = create_engine(url)
    with raw.connect() as conn:
        indexed = conn.execute(text("SELECT DISTINCT evidence_id FROM evidence_hashes")).all()
    raw.dispose()
    assert indexed == [(used_id,)]
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        copy = store_photo(
            s, media, make_employee(s), jpeg(centre_crop(scene(9), 0.9)), source="x", now=NOW
        )
        assert find_duplicate_claim(s, copy).evidence_id == used_id
        assert s.scalar(select(func.count(EvidenceHash.id))) == 2 * len(CROPS)
    engine.dispose()


def test_band_keys_are_the_documented_bands_of_low() -> None:
    hashes = [t for h in photo_hashes(scene(4)) for t in turns(h)]

    assert all(h.bands() == bands(h.low) for h in hashes)
