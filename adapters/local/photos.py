"""Thumbnails of the photos people send in the web chat, so their own line shows the picture.

The upload itself goes to the worker untouched (it checks and stores the evidence); this is only
the sender's view of it: downscaled, re-encoded (no EXIF, so no GPS), under media/local/sent.
"""

from __future__ import annotations

import io
import secrets
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

THUMB_SIZE = (480, 480)
SENT_DIR = Path("local") / "sent"


def save_thumbnail(data: bytes, media_dir: Path) -> str | None:
    """A `media:` reference to a JPEG thumbnail of `data`, or None when it is not a picture
    Pillow can read (the worker then tells the sender why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", THUMB_SIZE)  # JPEG: decode at the smallest sufficient scale
                thumb = ImageOps.exif_transpose(image).convert("RGB")
                thumb.thumbnail(THUMB_SIZE)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        return None
    relative = SENT_DIR / f"{secrets.token_hex(12)}.jpg"
    path = media_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    thumb.save(path, "JPEG", quality=80)
    return f"media:{relative.as_posix()}"
