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


# -- the 1:1 fact pack's heatmap ----------------------------------------------------------------
AMBER = (224, 150, 30)
EMPTY = (228, 224, 214)
LATER = (242, 239, 232)  # days still to come this week
HEAT = {"on_time": GREEN, "late": AMBER, "missed": RED, "none": EMPTY}


@dataclass(frozen=True, slots=True)
class HeatDay:
    """One day of the heatmap: how many tasks fell due, by outcome."""

    on_time: int = 0
    late: int = 0
    missed: int = 0

    @property
    def outcome(self) -> str:
        """The worst outcome of the day (missed, then late, then on time), or none."""
        if self.missed:
            return "missed"
        if self.late:
            return "late"
        return "on_time" if self.on_time else "none"


@dataclass(frozen=True, slots=True)
class FactPackImage:
    """What the fact pack image shows; `weeks` is 12 columns of 7 days (None = still to come),
    `week_labels` the Monday of each column, and the texts are ready to draw."""

    title: str
    subtitle: str
    weekday_labels: str
    week_labels: Sequence[str]
    weeks: Sequence[Sequence[HeatDay | None]]
    legend: Sequence[tuple[str, str]]
    totals: str
    facts: str
    foot: Sequence[str]


def render_factpack(path: Path, data: FactPackImage) -> Path:
    """The 1:1 fact pack heatmap: weeks left to right, Monday at the top, each day coloured
    by its worst outcome with the number of tasks due in it. Returns `path`."""
    cell, gap, left, top = 58, 6, 96, 200
    width = left + len(data.weeks) * (cell + gap) + 40
    grid_bottom = top + 7 * (cell + gap)
    image = Image.new("RGB", (width, grid_bottom + 220 + 34 * len(data.foot)), BG)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 8), fill=GREEN)
    draw.text((40, 32), data.title, font=font(44), fill=INK)
    draw.text((40, 98), data.subtitle, font=font(26), fill=MUTED)
    for col, label in enumerate(data.week_labels):
        x = left + col * (cell + gap) + cell // 2
        draw.text((x, top - 22), label, font=font(19), fill=MUTED, anchor="mm")
    for row, name in enumerate(data.weekday_labels):
        y = top + row * (cell + gap) + cell // 2
        draw.text((left - 30, y), name, font=font(28), fill=INK, anchor="mm")
    for col, week in enumerate(data.weeks):
        for row, day in enumerate(week):
            x, y = left + col * (cell + gap), top + row * (cell + gap)
            colour = LATER if day is None else HEAT[day.outcome]
            draw.rounded_rectangle((x, y, x + cell, y + cell), radius=8, fill=colour)
            count = 0 if day is None else day.on_time + day.late + day.missed
            if count:
                centre = (x + cell // 2, y + cell // 2)
                draw.text(centre, str(count), font=font(28), fill=(255, 255, 255), anchor="mm")
    y = grid_bottom + 18
    x = 40
    for label, outcome in data.legend:
        draw.rounded_rectangle((x, y, x + 30, y + 30), radius=6, fill=HEAT[outcome])
        draw.text((x + 40, y + 15), label, font=font(24), fill=INK, anchor="lm")
        x += 58 + int(draw.textlength(label, font=font(24)))
    draw.text((40, y + 62), data.totals, font=font(32), fill=INK)
    draw.text((40, y + 116), data.facts, font=font(28), fill=INK)
    for i, line in enumerate(data.foot):
        draw.text((40, y + 170 + 34 * i), line, font=font(22), fill=MUTED)
    return _save(image, path)
