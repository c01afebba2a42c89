"""Photo fingerprints (照片指纹): perceptual hashes that survive re-encoding, resizing, brightness,
crops, borders, mirrors and quarter turns, and the bands that index them.

For each centre crop in CROPS of the upright grey photo we keep the signs of the 16×16
lowest-frequency DCT coefficients of a 32×32 thumbnail (255 bits: `full`), and the 63 of them
in the 8×8 corner (`low`). Signs, unlike the median threshold of the classic pHash, turn with
the picture: mirroring the picture flips the signs of the odd columns (or rows) of the DCT and a
quarter turn transposes it, so the eight mirrored and rotated versions of a stored photo are
bit operations on its hashes (`turns`), and no orientation has to be guessed. Crops at several
scales cover a copy cut from the centre or framed by a border: a 90 % crop of a 90 % crop is
the 81 % crop of the photo.

Lookups: `low` is cut into BANDS interleaved bands; two hashes within BANDS - 1 bits of each
other share at least one band exactly, which an ordinary index finds (multi-index hashing).
A candidate is confirmed on `full`, which is four times longer: distinct photographs sit near
128 bits apart, a copy of one photo within FULL_MAX.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageStat

CROPS = (100, 95, 90, 80)  # percent of width and height kept around the centre
SIDE = 32  # thumbnail the DCT runs on
BLOCK = 16  # low-frequency block whose signs make `full`
LOW = 8  # corner of the block whose signs make `low` (and its bands)
BANDS = 4
FULL_BITS = BLOCK * BLOCK - 1
# Bench (bench/evidence.py): copies of one photo score at most ~50 on `full`, different
# photographs 86 and more (mean 127, sd 8).
FULL_MAX = 64
# Below this grey-level spread (on a 64×64 thumbnail) a picture has too little detail for a
# perceptual hash: every plain or dark picture (covered lens, blank wall) hashes alike, so one
# worker's would be taken for another's. Such photos (or crops) are matched byte for byte only.
MIN_DETAIL_STDDEV = 4.0
WORKING_SIDE = 512


@dataclass(frozen=True, slots=True)
class PhotoHash:
    """The hashes of one centre crop of a photo."""

    crop: int
    low: int  # 63 bits
    full: bytes  # 32 bytes; bit 0 (the DC term) always 0
    keys: tuple[int, ...]  # bands(low)

    def bands(self) -> tuple[int, ...]:
        """The BANDS index keys of `low`."""
        return self.keys


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)
    m = np.sqrt(2 / n) * np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix(SIDE)
_LOW_MASK = np.zeros((BLOCK, BLOCK), dtype=bool)
_LOW_MASK[:LOW, :LOW] = True
_LOW_MASK[0, 0] = False
_ODD_ROWS = (np.arange(BLOCK) % 2 == 1)[:, None] & np.ones((1, BLOCK), dtype=bool)
_ODD_COLS = _ODD_ROWS.T.copy()


def photo_hashes(img: Image.Image) -> list[PhotoHash]:
    """The hashes of every detailed centre crop of an upright photo (none for a plain one)."""
    grey = _working_copy(img)
    hashes = []
    for crop in CROPS:
        part = _centre(grey, crop)
        if not has_detail(part):
            continue
        pixels = np.asarray(part.resize((SIDE, SIDE), Image.Resampling.BOX), dtype=np.float64)
        coeffs = (_DCT @ pixels @ _DCT.T)[:BLOCK, :BLOCK]
        hashes.append(_from_signs(crop, coeffs > 0))
    return hashes


def has_detail(img: Image.Image) -> bool:
    """True when the picture has enough contrast for a perceptual hash to mean something."""
    grey = img.convert("L").resize((64, 64), Image.Resampling.BILINEAR)
    return ImageStat.Stat(grey).stddev[0] >= MIN_DETAIL_STDDEV


def turns(h: PhotoHash) -> list[PhotoHash]:
    """The hashes of the photo mirrored and turned: all eight, the photo itself first."""
    signs = _signs(h.full)
    out = []
    for transpose in (False, True):
        base = signs.T if transpose else signs
        for flip_rows in (False, True):
            for flip_cols in (False, True):
                s = base.copy()
                if flip_rows:
                    s ^= _ODD_ROWS
                if flip_cols:
                    s ^= _ODD_COLS
                out.append(_from_signs(h.crop, s))
    return out


def from_full(crop: int, full: bytes) -> PhotoHash:
    """A crop's hashes from its stored `full` bits."""
    return _from_signs(crop, _signs(full))


def full_distance(a: bytes, b: bytes) -> int:
    """Bits that differ between two `full` hashes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def is_same_photo(a: PhotoHash, b: PhotoHash) -> bool:
    """Whether two crop hashes show the same picture."""
    return full_distance(a.full, b.full) <= FULL_MAX


def bands(low: int) -> tuple[int, ...]:
    """`low` cut into BANDS keys; band k holds bits k, k + BANDS, k + 2·BANDS, … so that each
    band samples every frequency rather than one corner of the block."""
    return tuple(_gather(low, k) for k in range(BANDS))


@cache
def _band_positions(k: int) -> tuple[int, ...]:
    return tuple(range(k, LOW * LOW - 1, BANDS))


def _gather(value: int, k: int) -> int:
    key = 0
    for i, pos in enumerate(_band_positions(k)):
        key |= ((value >> pos) & 1) << i
    return key


def _signs(full: bytes) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(full, dtype=np.uint8))
    return bits.reshape(BLOCK, BLOCK).astype(bool)


# `low` is signs[_LOW_MASK] read as one binary number, first sign the highest bit; band k takes
# the bits at positions k, k + BANDS, … (see `bands`). Both as dot products with powers of two.
_BAND_WEIGHTS = np.zeros((BANDS, LOW * LOW - 1), dtype=np.int64)
for _k in range(BANDS):
    for _i, _pos in enumerate(range(_k, LOW * LOW - 1, BANDS)):
        _BAND_WEIGHTS[_k, LOW * LOW - 2 - _pos] = 1 << _i


def _from_signs(crop: int, signs: np.ndarray) -> PhotoHash:
    signs = signs.copy()
    signs[0, 0] = False
    full = np.packbits(signs.astype(np.uint8)).tobytes()
    seq = signs[_LOW_MASK]
    # 63 signs pack into 8 bytes with one padding bit at the end.
    low = int.from_bytes(np.packbits(seq).tobytes(), "big") >> 1
    keys = tuple(int(k) for k in _BAND_WEIGHTS @ seq.astype(np.int64))
    return PhotoHash(crop=crop, low=low, full=full, keys=keys)


def _working_copy(img: Image.Image) -> Image.Image:
    """A grey copy no larger than WORKING_SIDE, enough for crops to land within a pixel."""
    grey = img.convert("L")
    if max(grey.size) > 2 * WORKING_SIDE:
        grey = grey.reduce(max(1, max(grey.size) // WORKING_SIDE))
    if max(grey.size) > WORKING_SIDE:
        grey = grey.copy()
        grey.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BILINEAR)
    return grey


def _centre(img: Image.Image, percent: int) -> Image.Image:
    if percent >= 100:
        return img
    w, h = img.size
    cw, ch = w * percent / 100, h * percent / 100
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    return img.crop(tuple(round(x) for x in box))


def stored_photo_hashes(path: str | Path) -> list[PhotoHash]:
    """The hashes of a photo already stored under the media directory (upright, no EXIF turn
    left to apply); JPEGs are decoded at a reduced scale, which is all the hashes need.

    Raises: OSError (and Pillow's decode errors) for a missing or broken file.
    """
    with Image.open(path) as img:
        img.draft("L", (WORKING_SIDE, WORKING_SIDE))
        img.load()
        return photo_hashes(img)
