"""Evidence photos (证据): validate, strip personal metadata, store by content, fingerprint for
reuse checks (bot/services/reuse.py)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import imagehash
from PIL import Image, ImageOps
from sqlalchemy.orm import Session

from bot.errors import InvalidInput
from bot.models import Employee, Evidence
from bot.notices.evidence import (
    PHOTO_CORRUPT,
    PHOTO_NOT_IMAGE,
    PHOTO_TOO_LARGE,
    PHOTO_TOO_MANY_PIXELS,
    PHOTO_UNSUPPORTED,
)
from bot.services.photohash import PhotoHash, has_detail, photo_hashes
from bot.services.reuse import find_duplicate_claim, index_photo

__all__ = ["find_duplicate_claim", "photo_path", "read_photo", "store_photo"]

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000


# EXIF dates carry no zone; photos are taken in the factory (design §11).
EXIF_TZ = ZoneInfo("Asia/Shanghai")
EXIF_IFD = 0x8769
TAG_DATETIME_ORIGINAL = 36867
TAG_DATETIME = 306
JPEG_QUALITY = 90
WEBP_QUALITY = 90

# Pillow format name -> (stored format, file extension, MIME type). MPO is a JPEG with extra
# frames (some phones write it); we keep its first frame as a plain JPEG.
_OUTPUT = {
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "MPO": ("JPEG", "jpg", "image/jpeg"),
    "PNG": ("PNG", "png", "image/png"),
    "WEBP": ("WEBP", "webp", "image/webp"),
}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
# What Pillow raises on a broken file: truncated data, bad CRC, bad markers, short headers.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
# Metadata is untrusted too; a broken EXIF block costs the date, never the photo.
_EXIF_ERRORS = (*_DECODE_ERRORS, KeyError, TypeError, AttributeError)


def store_photo(
    session: Session,
    media_dir: Path,
    employee: Employee,
    data: bytes,
    *,
    source: str,
    now: datetime,
) -> Evidence:
    """Validate, sanitize and store a photo; return a new, flushed Evidence row.

    Raises: InvalidInput with PHOTO_TOO_LARGE, PHOTO_NOT_IMAGE, PHOTO_UNSUPPORTED, PHOTO_CORRUPT or
    PHOTO_TOO_MANY_PIXELS; nothing is written then.
    """
    if len(data) > MAX_BYTES:
        raise InvalidInput(PHOTO_TOO_LARGE)
    fmt = _sniff_format(data)
    clean, taken_at, phash, fingerprints = _sanitize(data, fmt)
    _, ext, mime_type = _OUTPUT[fmt]
    digest = hashlib.sha256(clean.bytes).hexdigest()
    key = f"{digest[:2]}/{digest[2:4]}/{digest}.{ext}"
    _write_once(media_dir / key, clean.bytes)
    evidence = Evidence(
        employee_id=employee.id,
        sha256=hashlib.sha256(data).hexdigest(),
        phash=phash,
        mime_type=mime_type,
        size=len(clean.bytes),
        width=clean.width,
        height=clean.height,
        taken_at=taken_at,
        storage_key=key,
        source=source,
        created_at=now,
    )
    session.add(evidence)
    session.flush()
    index_photo(session, evidence, fingerprints)
    return evidence


def photo_path(media_dir: Path, evidence: Evidence) -> Path:
    """Where the stored photo of `evidence` lives under `media_dir`.

    Raises: ValueError when the storage key would leave `media_dir`.
    """
    root = Path(media_dir).resolve()
    path = (root / evidence.storage_key).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"evidence {evidence.id}: storage key outside the media directory")
    return path


def read_photo(media_dir: Path, evidence: Evidence) -> bytes:
    """The stored (sanitized) bytes of `evidence`."""
    return photo_path(media_dir, evidence).read_bytes()


class _Clean:
    """A re-encoded photo and its dimensions."""

    __slots__ = ("bytes", "height", "width")

    def __init__(self, data: bytes, width: int, height: int):
        self.bytes = data
        self.width = width
        self.height = height


def _sniff_format(data: bytes) -> str:
    """The Pillow format name for JPEG/PNG/WebP content, judged by magic bytes only.

    Raises: InvalidInput(PHOTO_UNSUPPORTED) for other known file types, PHOTO_NOT_IMAGE otherwise.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if _is_other_known_format(data):
        raise InvalidInput(PHOTO_UNSUPPORTED)
    raise InvalidInput(PHOTO_NOT_IMAGE)


def _is_other_known_format(data: bytes) -> bool:
    """True for image or document formats a phone might send that we do not accept."""
    if data.startswith((b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"%PDF-")):
        return True
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return True
    # "BM" alone would catch any text starting with those letters; check the DIB header size too.
    return (
        data.startswith(b"BM")
        and len(data) >= 18
        and struct.unpack_from("<I", data, 14)[0] in _BMP_HEADER_SIZES
    )


def _sanitize(data: bytes, fmt: str) -> tuple[_Clean, datetime | None, str, list[PhotoHash]]:
    """Decode fully, re-encode without metadata except the capture time; also the perceptual
    hash (pHash, kept for exports) and the fingerprints that find reused photos.

    Raises: InvalidInput(PHOTO_CORRUPT or PHOTO_TOO_MANY_PIXELS).
    """
    try:
        # Image.open checks Pillow's own (global) bomb limit: a warning past it, an error past
        # twice it. Turn the warning into an error for this call only; MAX_PIXELS is ours.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(PHOTO_TOO_MANY_PIXELS) from None
    except _DECODE_ERRORS:
        raise InvalidInput(PHOTO_CORRUPT) from None
    with img:
        if img.format not in _OUTPUT or _OUTPUT[img.format][0] != _OUTPUT[fmt][0]:
            raise InvalidInput(PHOTO_UNSUPPORTED)
        width, height = img.size
        # The header gives the size before any pixel is decoded.
        if width * height > MAX_PIXELS:
            raise InvalidInput(PHOTO_TOO_MANY_PIXELS)
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InvalidInput(PHOTO_TOO_MANY_PIXELS) from None
        except _DECODE_ERRORS:
            raise InvalidInput(PHOTO_CORRUPT) from None
        taken_tag, taken_local = _read_capture_time(img)
        out = _upright(img)
        icc_profile = img.info.get("icc_profile")

    # Drop everything Pillow carried over (comments, XMP, text chunks, DPI); keep transparency.
    transparency = out.info.get("transparency")
    out.info = {} if transparency is None else {"transparency": transparency}
    exif = Image.Exif()
    if taken_local is not None:
        value = taken_local.strftime("%Y:%m:%d %H:%M:%S")
        if taken_tag == TAG_DATETIME_ORIGINAL:
            exif.get_ifd(EXIF_IFD)[TAG_DATETIME_ORIGINAL] = value
        else:
            exif[TAG_DATETIME] = value

    stored_format = _OUTPUT[fmt][0]
    options: dict[str, object] = {"exif": exif}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if stored_format == "JPEG":
        options["quality"] = JPEG_QUALITY
    elif stored_format == "WEBP":
        options["quality"] = WEBP_QUALITY
    buf = io.BytesIO()
    out.save(buf, format=stored_format, **options)
    phash = str(imagehash.phash(out)) if has_detail(out) else ""
    taken_at = None if taken_local is None else taken_local.replace(tzinfo=EXIF_TZ).astimezone(UTC)
    return _Clean(buf.getvalue(), out.width, out.height), taken_at, phash, photo_hashes(out)


def _upright(img: Image.Image) -> Image.Image:
    """A copy turned the way the EXIF orientation says (a copy as-is if that tag is unreadable)."""
    try:
        return ImageOps.exif_transpose(img)
    except _EXIF_ERRORS:
        return img.copy()


def _read_capture_time(img: Image.Image) -> tuple[int | None, datetime | None]:
    """The EXIF tag used and the naive local capture time: DateTimeOriginal, else DateTime."""
    try:
        exif = img.getexif()
        candidates = (
            (TAG_DATETIME_ORIGINAL, exif.get_ifd(EXIF_IFD).get(TAG_DATETIME_ORIGINAL)),
            (TAG_DATETIME, exif.get(TAG_DATETIME)),
        )
    except _EXIF_ERRORS:
        return None, None
    for tag, raw in candidates:
        parsed = _parse_exif_datetime(raw)
        if parsed is not None:
            return tag, parsed
    return None, None


def _parse_exif_datetime(raw: object) -> datetime | None:
    """Parse "YYYY:MM:DD HH:MM:SS" (NUL-padded, dashes tolerated); None when absent or invalid."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str):
        return None
    text = raw.strip("\x00 ").replace("-", ":")
    try:
        parsed = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    # Cameras with an unset clock write 1970 or the all-zero date (which strptime refuses).
    return parsed if parsed.year >= 1980 else None


def _write_once(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically unless the file is already there (content-addressed)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
