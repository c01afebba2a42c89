"""Pillow images for pushes (leaderboard TOP5, 改善之星 certificate) with a CJK font.

Images are written under BOT_MEDIA_DIR and referenced from a Card as
`Card.image = "media:<path relative to BOT_MEDIA_DIR>"` (e.g. `media:leaderboard/2026-W47/dept-3.png`,
see bot/services/images.py), next to the `evidence:ID` scheme."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Tried in order after BOT_CJK_FONT: the pinned PyPI font package, then Debian font packages.
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
)
BG = (250, 248, 243)
INK = (40, 40, 40)
MUTED = (120, 120, 120)
GOLD = (196, 150, 40)
RED = (200, 60, 50)
GREEN = (40, 140, 80)


@cache
def cjk_font_path() -> str | None:
    """A font file with Chinese glyphs, or None (images then fall back to Pillow's default)."""
    env = os.environ.get("BOT_CJK_FONT")
    if env and Path(env).is_file():
        return env
    try:
        bundled = resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"
        if bundled.is_file():
            return str(bundled)
    except ModuleNotFoundError:
        pass
    return next((p for p in SYSTEM_FONTS if Path(p).is_file()), None)


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The CJK font at `size` px."""
    path = cjk_font_path()
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One line of a leaderboard image."""

    rank: int
    name: str
    points: int
    movement: int | None  # places gained since last week; None = new in the ranking
    tied: bool = False  # someone else has the same points and so the same rank


def movement_text(movement: int | None) -> str:
    """↑2 / ↓1 / — / 新."""
    if movement is None:
        return "新"
    if movement > 0:
        return f"↑{movement}"
    if movement < 0:
        return f"↓{-movement}"
    return "—"


def _save(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    image.save(tmp, "PNG", optimize=True)
    tmp.replace(path)
    return path


def render_leaderboard(path: Path, title: str, subtitle: str, rows: Sequence[BoardRow]) -> Path:
    """A TOP-N board: rank, name, points, week-on-week movement. Returns `path`."""
    width, row_h, top = 720, 84, 150
    image = Image.new("RGB", (width, top + row_h * max(len(rows), 1) + 40), BG)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 8), fill=GOLD)
    draw.text((40, 36), title, font=font(40), fill=INK)
    draw.text((40, 96), subtitle, font=font(24), fill=MUTED)
    for i, row in enumerate(rows):
        y = top + i * row_h
        if i % 2 == 0:
            draw.rectangle((24, y, width - 24, y + row_h - 8), fill=(243, 239, 230))
        medal_colour = (
            (GOLD, (160, 160, 170), (176, 112, 64))[row.rank - 1] if row.rank <= 3 else MUTED
        )
        draw.ellipse((44, y + 14, 94, y + 64), fill=medal_colour)
        draw.text((69, y + 39), str(row.rank), font=font(28), fill=(255, 255, 255), anchor="mm")
        draw.text((120, y + 20), row.name, font=font(34), fill=INK)
        if row.tied:
            # Equal points share a rank; say so, or two people on 1 read as a mistake.
            name_end = draw.textlength(row.name, font=font(34))
            draw.rounded_rectangle(
                (132 + name_end, y + 24, 196 + name_end, y + 56), radius=8, fill=GOLD
            )
            draw.text(
                (164 + name_end, y + 40), "并列", font=font(22), fill=(255, 255, 255), anchor="mm"
            )
        draw.text((520, y + 39), f"{row.points} 分", font=font(32), fill=INK, anchor="rm")
        move = movement_text(row.movement)
        colour = GREEN if move.startswith("↑") else RED if move.startswith("↓") else MUTED
        draw.text((640, y + 39), move, font=font(30), fill=colour, anchor="mm")
    return _save(image, path)


def render_certificate(path: Path, *, month: str, name: str, department: str, points: int) -> Path:
    """The 改善之星 certificate. Returns `path`."""
    width, height = 900, 600
    image = Image.new("RGB", (width, height), (255, 252, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, width - 20, height - 20), outline=GOLD, width=8)
    draw.rectangle((40, 40, width - 40, height - 40), outline=GOLD, width=2)
    centre = width // 2
    draw.text((centre, 130), "改善之星", font=font(84), fill=RED, anchor="mm")
    draw.text((centre, 215), f"{month} 月度荣誉", font=font(30), fill=MUTED, anchor="mm")
    draw.text((centre, 315), name, font=font(72), fill=INK, anchor="mm")
    draw.text((centre, 395), department, font=font(32), fill=MUTED, anchor="mm")
    draw.text(
        (centre, 470), f"本月改善积分 {points} 分，特发此证，以资鼓励。", font=font(30),
        fill=INK, anchor="mm",
    )  # fmt: skip
    return _save(image, path)
