"""Evidence photos (证据): validation, metadata stripping, storage and duplicate detection."""

from __future__ import annotations

import hashlib
import io
import random
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFile
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.models import ClaimState, Evidence
from bot.services.evidence import (
    MAX_BYTES,
    PHOTO_CORRUPT,
    PHOTO_NOT_IMAGE,
    PHOTO_TOO_LARGE,
    PHOTO_TOO_MANY_PIXELS,
    PHOTO_UNSUPPORTED,
    find_duplicate_claim,
    photo_path,
    read_photo,
    store_photo,
)
from tests.factories import make_claim, make_employee

NOW = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 36867
DATETIME = 306
ORIENTATION = 274
MAKER_NOTE = 0x927C
BODY_SERIAL = 0xA431


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """The evidence directory under test (created by the first stored photo)."""
    return tmp_path / "evidence"


# --- Image builders ---


def _picture(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like RGB picture: random coloured shapes, so each seed looks different."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    w, h = size
    for _ in range(12):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randrange(20, w // 2), y0 + rng.randrange(20, h // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle(box, fill=colour)
        else:
            draw.ellipse(box, fill=colour)
    return img


def _encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def _jpeg(seed: int = 1, **options: object) -> bytes:
    return _encode(_picture(seed), "JPEG", quality=92, **options)


def _personal_exif(*, original: str | None = "2024:05:01 08:30:00") -> Image.Exif:
    """EXIF as a phone writes it: GPS, camera make/model/serial, a maker note, capture time."""
    exif = Image.Exif()
    exif[271] = "PhoneMaker"
    exif[272] = "PhoneModel X"
    exif[DATETIME] = "2024:06:01 12:00:00"
    sub = exif.get_ifd(EXIF_IFD)
    if original is not None:
        sub[DATETIME_ORIGINAL] = original
    sub[BODY_SERIAL] = "SERIAL-778899"
    sub[MAKER_NOTE] = b"MAKERNOTE-SECRET"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 7.5)
    gps[3] = "E"
    gps[4] = (121.0, 28.0, 12.25)
    return exif


def _png_bomb(width: int, height: int, *, valid_data: bool = True) -> bytes:
    """A 1-bit greyscale PNG of all-black rows: huge when decoded, a few KB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    if valid_data:
        row = b"\x00" * (1 + (width + 7) // 8)
        comp = zlib.compressobj(9)
        idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    else:
        idat = b"not zlib at all"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _jpeg_with_header_size(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF header claims another size."""
    data = bytearray(_jpeg(seed=5))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


# --- Storing ---


def test_valid_jpeg_is_stored_content_addressed(session: Session, media: Path) -> None:
    employee = make_employee(session)
    data = _jpeg()

    ev = store_photo(session, media, employee, data, source="wecom", now=NOW)

    stored = read_photo(media, ev)
    digest = hashlib.sha256(stored).hexdigest()
    assert ev.id is not None
    assert ev.sha256 == hashlib.sha256(data).hexdigest()
    assert ev.storage_key == f"{digest[:2]}/{digest[2:4]}/{digest}.jpg"
    assert photo_path(media, ev) == (media / ev.storage_key).resolve()
    assert (ev.mime_type, ev.size, ev.width, ev.height) == ("image/jpeg", len(stored), 640, 480)
    assert (ev.source, ev.employee_id, ev.created_at) == ("wecom", employee.id, NOW)
    assert re.fullmatch(r"[0-9a-f]{16}", ev.phash)
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == "JPEG"


def test_stored_jpeg_has_no_gps_or_camera_details_but_keeps_capture_time(
    session: Session, media: Path
) -> None:
    data = _jpeg(exif=_personal_exif(), comment=b"COMMENT-SECRET")

    ev = store_photo(session, media, make_employee(session), data, source="local", now=NOW)

    stored = read_photo(media, ev)
    with Image.open(io.BytesIO(stored)) as img:
        exif = img.getexif()
        assert GPS_IFD not in exif
        assert dict(exif.get_ifd(GPS_IFD)) == {}
        assert dict(exif.get_ifd(EXIF_IFD)) == {DATETIME_ORIGINAL: "2024:05:01 08:30:00"}
        assert set(exif) <= {EXIF_IFD}
        assert "comment" not in img.info
    for secret in (b"PhoneMaker", b"PhoneModel", b"SERIAL-778899", b"MAKERNOTE", b"COMMENT"):
        assert secret not in stored
    # 08:30 in the factory (UTC+8) is 00:30 UTC.
    assert ev.taken_at == datetime(2024, 5, 1, 0, 30, tzinfo=UTC)


def test_capture_time_falls_back_to_datetime_tag(session: Session, media: Path) -> None:
    data = _jpeg(exif=_personal_exif(original=None))

    ev = store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert ev.taken_at == datetime(2024, 6, 1, 4, 0, tzinfo=UTC)
    with Image.open(io.BytesIO(read_photo(media, ev))) as img:
        assert img.getexif().get(DATETIME) == "2024:06:01 12:00:00"


@pytest.mark.parametrize(
    "value", ["0000:00:00 00:00:00", "2024:13:45 99:00:00", "yesterday", ""], ids=str
)
def test_invalid_capture_time_is_none(session: Session, media: Path, value: str) -> None:
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = value
    data = _jpeg(exif=exif)

    ev = store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert ev.taken_at is None
    with Image.open(io.BytesIO(read_photo(media, ev))) as img:
        assert DATETIME_ORIGINAL not in img.getexif().get_ifd(EXIF_IFD)


def test_photo_without_exif_has_no_capture_time(session: Session, media: Path) -> None:
    ev = store_photo(session, media, make_employee(session), _jpeg(), source="x", now=NOW)

    assert ev.taken_at is None


def test_exif_orientation_is_applied_and_dropped(session: Session, media: Path) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # stored sideways: turn 90° clockwise to view
    data = _encode(_picture(3, size=(200, 100)), "JPEG", exif=exif)

    ev = store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert (ev.width, ev.height) == (100, 200)
    with Image.open(io.BytesIO(read_photo(media, ev))) as img:
        assert img.size == (100, 200)
        assert ORIENTATION not in img.getexif()


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
    ids=["png", "webp"],
)
def test_png_and_webp_are_stored_in_their_own_format(
    session: Session, media: Path, fmt: str, mime: str, ext: str
) -> None:
    picture = _picture(7).convert("RGBA")
    picture.putalpha(Image.linear_gradient("L").resize(picture.size))  # real transparency
    data = _encode(picture, fmt, exif=_personal_exif())

    ev = store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    stored = read_photo(media, ev)
    assert (ev.mime_type, ev.storage_key.rsplit(".", 1)[1]) == (mime, ext)
    assert ev.taken_at == datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
    with Image.open(io.BytesIO(stored)) as img:
        assert (img.format, img.mode, img.size) == (fmt, "RGBA", (640, 480))
        assert dict(img.getexif().get_ifd(GPS_IFD)) == {}
    assert b"SERIAL-778899" not in stored


def test_content_decides_the_format_not_the_file_name(session: Session, media: Path) -> None:
    # What a chat client uploads as "IMG_0001.jpg" may really be a PNG; we never see the name.
    data = _encode(_picture(8), "PNG")

    ev = store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert ev.mime_type == "image/png"
    assert ev.storage_key.endswith(".png")


def test_same_photo_twice_shares_one_stored_file(session: Session, media: Path) -> None:
    employee = make_employee(session)
    data = _jpeg(seed=9)

    first = store_photo(session, media, employee, data, source="x", now=NOW)
    before = photo_path(media, first).stat()

    second = store_photo(session, media, employee, data, source="x", now=NOW)

    after = photo_path(media, second).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert first.id != second.id
    assert first.storage_key == second.storage_key
    assert [p for p in media.rglob("*") if p.is_file() and p.suffix == ".jpg"] == [
        photo_path(media, first)
    ]
    assert not list(media.rglob(".tmp-*"))


def test_photo_path_refuses_a_key_outside_the_media_dir(media: Path) -> None:
    with pytest.raises(ValueError):
        photo_path(media, Evidence(storage_key="../../etc/passwd"))


# --- Refusals ---


def _gif() -> bytes:
    return _encode(_picture(1).convert("P"), "GIF")


def _bmp() -> bytes:
    return _encode(_picture(1), "BMP")


def _tiff() -> bytes:
    return _encode(_picture(1), "TIFF")


REFUSED = {
    "gif": (_gif, PHOTO_UNSUPPORTED),
    "bmp": (_bmp, PHOTO_UNSUPPORTED),
    "tiff": (_tiff, PHOTO_UNSUPPORTED),
    "pdf": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", PHOTO_UNSUPPORTED),
    "heic": (
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64,
        PHOTO_UNSUPPORTED,
    ),
    "text": (lambda: "这不是照片 BMW 3 series".encode(), PHOTO_NOT_IMAGE),
    "bm-text": (lambda: b"BM is just text here, not a bitmap", PHOTO_NOT_IMAGE),
    "empty": (lambda: b"", PHOTO_NOT_IMAGE),
    "jpeg-magic-garbage": (lambda: b"\xff\xd8\xff" + b"garbage" * 20, PHOTO_CORRUPT),
    "webp-header-only": (lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 ", PHOTO_CORRUPT),
}


@pytest.mark.parametrize("kind", list(REFUSED), ids=list(REFUSED))
def test_refused_files_get_a_reason_and_store_nothing(
    session: Session, media: Path, kind: str
) -> None:
    build, message = REFUSED[kind]
    employee = make_employee(session)

    with pytest.raises(InvalidInput) as info:
        store_photo(session, media, employee, build(), source="x", now=NOW)

    assert info.value.user_message == message
    assert session.scalar(select(func.count()).select_from(Evidence)) == 0
    assert not media.exists()


def test_oversize_is_refused_before_decoding(session: Session, media: Path) -> None:
    # Not a decodable image at all: a size check that ran after decoding would say PHOTO_CORRUPT.
    data = b"\xff\xd8\xff" + b"\0" * MAX_BYTES

    with pytest.raises(InvalidInput) as info:
        store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert info.value.user_message == PHOTO_TOO_LARGE


def test_photo_of_exactly_the_limit_is_accepted(session: Session, media: Path) -> None:
    data = _jpeg()
    data += b"\0" * (MAX_BYTES - len(data))  # padding after the JPEG end marker is ignored

    ev = store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert len(data) == MAX_BYTES
    assert ev.mime_type == "image/jpeg"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"], ids=str.lower)
def test_truncated_photo_is_refused(session: Session, media: Path, fmt: str) -> None:
    data = _encode(_picture(11, size=(800, 600)), fmt)
    truncated = data[: len(data) * 2 // 3]

    with pytest.raises(InvalidInput) as info:
        store_photo(session, media, make_employee(session), truncated, source="x", now=NOW)

    assert info.value.user_message == PHOTO_CORRUPT
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# 8000² is over our limit but under Pillow's own; 12000² trips Pillow's warning, 20000² its error.
@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("side", [8000, 12000, 20000], ids=lambda s: f"{s}x{s}")
def test_png_decompression_bomb_is_refused(session: Session, media: Path, side: int) -> None:
    data = _png_bomb(side, side)
    assert len(data) < 100_000

    with pytest.raises(InvalidInput) as info:
        store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert info.value.user_message == PHOTO_TOO_MANY_PIXELS


def test_bomb_is_refused_from_the_header_without_decoding(session: Session, media: Path) -> None:
    # The pixel data is not even valid: decoding first would have answered PHOTO_CORRUPT.
    data = _png_bomb(8000, 8000, valid_data=False)

    with pytest.raises(InvalidInput) as info:
        store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert info.value.user_message == PHOTO_TOO_MANY_PIXELS


def test_jpeg_claiming_huge_size_is_refused(session: Session, media: Path) -> None:
    data = _jpeg_with_header_size(8000, 6000)

    with pytest.raises(InvalidInput) as info:
        store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert info.value.user_message == PHOTO_TOO_MANY_PIXELS


# --- Duplicates ---


def _resized_and_recompressed(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        smaller = img.resize((img.width * 9 // 10, img.height * 9 // 10), Image.Resampling.LANCZOS)
    return _encode(smaller, "JPEG", quality=70)


def test_exact_same_photo_from_another_employee_is_found(session: Session, media: Path) -> None:
    data = _jpeg(seed=21)
    first = store_photo(session, media, make_employee(session), data, source="x", now=NOW)
    claim = make_claim(session, employee=make_employee(session), evidence=first)

    again = store_photo(session, media, make_employee(session), data, source="x", now=NOW)

    assert again.sha256 == first.sha256
    assert find_duplicate_claim(session, again) == claim


def test_resized_recompressed_copy_is_found(session: Session, media: Path) -> None:
    employee = make_employee(session)
    data = _jpeg(seed=22)
    first = store_photo(session, media, employee, data, source="x", now=NOW)
    claim = make_claim(session, employee=employee, evidence=first, state=ClaimState.APPROVED)
    copy = _resized_and_recompressed(data)

    near = store_photo(session, media, employee, copy, source="x", now=NOW)

    assert near.sha256 != first.sha256
    assert find_duplicate_claim(session, near) == claim


def test_different_photo_is_not_flagged(session: Session, media: Path) -> None:
    employee = make_employee(session)
    first = store_photo(session, media, employee, _jpeg(seed=23), source="x", now=NOW)
    make_claim(session, employee=employee, evidence=first)

    other = store_photo(session, media, employee, _jpeg(seed=24), source="x", now=NOW)

    assert find_duplicate_claim(session, other) is None


def _plain(colour: tuple[int, int, int], seed: int) -> bytes:
    """A nearly uniform photo (covered lens, blank wall) with a little sensor noise."""
    rnd = random.Random(seed)
    img = Image.new("RGB", (640, 480), colour)
    pixels = img.load()
    for _ in range(3000):
        x, y = rnd.randrange(640), rnd.randrange(480)
        pixels[x, y] = tuple(max(0, min(255, c + rnd.randrange(-3, 4))) for c in colour)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_two_different_plain_photos_are_not_taken_for_each_other(
    session: Session, media: Path
) -> None:
    # Every plain picture has the same perceptual hash; without the detail check the second
    # worker's dark photo was refused as the first worker's.
    first_worker, second_worker = make_employee(session), make_employee(session)
    dark = store_photo(session, media, first_worker, _plain((10, 10, 12), 1), source="x", now=NOW)
    make_claim(session, employee=first_worker, evidence=dark)

    white = _plain((240, 240, 235), 2)
    other = store_photo(session, media, second_worker, white, source="x", now=NOW)

    assert dark.phash == other.phash == ""
    assert find_duplicate_claim(session, other) is None
    # The very same plain photo sent again is still caught, byte for byte.
    again = store_photo(session, media, second_worker, _plain((10, 10, 12), 1), source="x", now=NOW)
    assert find_duplicate_claim(session, again) is not None


@pytest.mark.parametrize("claim_state", [ClaimState.REJECTED, ClaimState.WITHDRAWN], ids=str)
def test_photo_of_a_rejected_or_withdrawn_claim_is_not_flagged(
    session: Session, media: Path, claim_state: str
) -> None:
    employee = make_employee(session)
    data = _jpeg(seed=25)
    first = store_photo(session, media, employee, data, source="x", now=NOW)
    make_claim(session, employee=employee, evidence=first, state=claim_state)

    again = store_photo(session, media, employee, data, source="x", now=NOW)

    assert find_duplicate_claim(session, again) is None


def test_claim_on_the_same_evidence_row_is_found(session: Session, media: Path) -> None:
    # One photo's rule card tapped twice used to make two claims: the same row was skipped.
    employee = make_employee(session)
    ev = store_photo(session, media, employee, _jpeg(seed=26), source="x", now=NOW)
    claim = make_claim(session, employee=employee, evidence=ev)

    assert find_duplicate_claim(session, ev) == claim


def test_the_claim_being_decided_is_not_its_own_duplicate(session: Session, media: Path) -> None:
    employee = make_employee(session)
    ev = store_photo(session, media, employee, _jpeg(seed=26), source="x", now=NOW)
    claim = make_claim(session, employee=employee, evidence=ev)

    assert find_duplicate_claim(session, ev, exclude_claim_id=claim.id) is None


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "near"])
def test_earliest_matching_claim_is_returned(session: Session, media: Path, exact: bool) -> None:
    employee = make_employee(session)
    data = _jpeg(seed=27)
    evs = [store_photo(session, media, employee, data, source="x", now=NOW) for _ in range(3)]
    # Insertion order (ids) and time order disagree, so only ordering by time finds the oldest.
    make_claim(session, employee=employee, evidence=evs[0], created_at=NOW - timedelta(days=1))
    older = make_claim(
        session, employee=employee, evidence=evs[1], created_at=NOW - timedelta(days=3)
    )
    make_claim(session, employee=employee, evidence=evs[2], created_at=NOW)
    probe_data = data if exact else _resized_and_recompressed(data)

    probe = store_photo(session, media, employee, probe_data, source="x", now=NOW)

    assert find_duplicate_claim(session, probe) == older


def test_exact_match_wins_over_an_earlier_near_match(session: Session, media: Path) -> None:
    employee = make_employee(session)
    data = _jpeg(seed=28)
    near_ev = store_photo(
        session, media, employee, _resized_and_recompressed(data), source="x", now=NOW
    )
    make_claim(session, employee=employee, evidence=near_ev, created_at=NOW - timedelta(days=5))
    exact_ev = store_photo(session, media, employee, data, source="x", now=NOW)
    exact = make_claim(session, employee=employee, evidence=exact_ev, created_at=NOW)

    probe = store_photo(session, media, employee, data, source="x", now=NOW)

    assert find_duplicate_claim(session, probe) == exact
