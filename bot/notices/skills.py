"""What 能力 (skills) shows: the radar image (CJK, sized for a phone) and its card, and the
talent tags of design §15."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from bot.notices.images import BG, INK, MUTED, _save, font

TITLE = "🧭 {name} 的能力雷达"
IMAGE_TITLE = "{name} 能力雷达"  # no emoji: the CJK font has none
SUBTITLE = "近 90 天各类积分 · {department}"
LEGEND_OWN = "我的积分"
LEGEND_AVG = "部门平均"
LINE = "{category}：{own} 分（部门平均 {avg}）"
TAGS_HEADER = "人才标签："
TAG_LINE = "🏷 {tag}"
NO_TAGS = "暂无人才标签：某一类积分占你总分 40% 以上、且在部门前 25%，即可获得。"
NO_POINTS = (
    "近 90 天还没有积分，先发照片申领吧。能力雷达会按规则类别（设备、质量、安全……）展示你的积分。"
)
NOTE = "雷达按规则类别统计近 90 天的积分（含活动加分），虚线为部门人均。"
NO_DEPARTMENT = "未分配部门"
TAGS = {
    "设备": "设备能手 → 维修培训候选",
    "质量": "质量卫士 → 质检骨干候选",
    "安全": "安全标兵 → 安全员候选",
    "改善": "改善达人 → 精益项目候选",
    "协作": "协作先锋 → 班组长候选",
    "培训": "传帮带能手 → 内训师候选",
    "记录": "记录标兵 → 文控岗位候选",
    "5S": "5S 标兵 → 现场管理候选",
    "变更": "变更快手 → 工程变更对接人候选",
}
TAG_DEFAULT = "{category}能手"

OWN_FILL = (214, 64, 52, 90)
OWN_LINE = (200, 60, 50)
AVG_LINE = (60, 110, 190)
GRID = (215, 210, 200)


def tag_text(category: str) -> str:
    """设备 → 设备能手 → 维修培训候选."""
    return TAGS.get(category, TAG_DEFAULT.format(category=category))


def _nice_max(value: float) -> int:
    """A round scale maximum at or above `value` (10, 20, 50, 100, 200 …)."""
    if value <= 10:
        return 10
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return int(10 * magnitude)


def _dashed_polygon(draw: ImageDraw.ImageDraw, points: Sequence[tuple[float, float]]) -> None:
    """A closed dashed outline (the department average)."""
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True):
        length = math.hypot(x1 - x0, y1 - y0)
        dashes = max(int(length // 14), 1)
        for i in range(0, dashes, 2):
            a, b = i / dashes, min((i + 1) / dashes, 1.0)
            draw.line(
                (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b),
                fill=AVG_LINE, width=5,
            )  # fmt: skip


def render_radar(
    path: Path,
    *,
    title: str,
    subtitle: str,
    categories: Sequence[str],
    own: Sequence[float],
    average: Sequence[float],
) -> Path:
    """The radar: one axis per category, the person's points filled, the department average
    dashed, each axis labelled with the category and the person's points. Returns `path`."""
    width, height = 900, 1040
    cx, cy, radius = width / 2, 560, 300
    image = Image.new("RGBA", (width, height), BG + (255,))
    draw = ImageDraw.Draw(image)
    draw.text((40, 32), title, font=font(44), fill=INK)
    draw.text((40, 96), subtitle, font=font(28), fill=MUTED)
    n = max(len(categories), 3)
    scale = _nice_max(max([*own, *average, 1]))

    def at(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * min(value / scale, 1.0)
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    for ring in (0.25, 0.5, 0.75, 1.0):
        draw.polygon([at(i, scale * ring) for i in range(n)], outline=GRID, width=2)
    draw.text((cx + 10, cy - radius + 6), f"{scale}", font=font(22), fill=MUTED, anchor="lt")
    for i in range(n):
        draw.line((cx, cy, *at(i, scale)), fill=GRID, width=2)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    own_points = [at(i, own[i] if i < len(own) else 0) for i in range(n)]
    ImageDraw.Draw(overlay).polygon(own_points, fill=OWN_FILL)
    image = Image.alpha_composite(image, overlay)
    draw = ImageDraw.Draw(image)
    draw.line([*own_points, own_points[0]], fill=OWN_LINE, width=5, joint="curve")
    for x, y in own_points:
        draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=OWN_LINE)
    _dashed_polygon(draw, [at(i, average[i] if i < len(average) else 0) for i in range(n)])
    for i, category in enumerate(categories):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        lx, ly = cx + (radius + 62) * math.cos(angle), cy + (radius + 52) * math.sin(angle)
        draw.text((lx, ly - 16), category, font=font(32), fill=INK, anchor="mm")
        draw.text((lx, ly + 20), f"{int(own[i])} 分", font=font(26), fill=OWN_LINE, anchor="mm")
    legend_y = height - 70
    draw.rectangle((60, legend_y - 14, 100, legend_y + 14), fill=OWN_LINE)
    draw.text((114, legend_y), LEGEND_OWN, font=font(28), fill=INK, anchor="lm")
    for x in (420, 446):
        draw.line((x, legend_y, x + 16, legend_y), fill=AVG_LINE, width=5)
    draw.text((484, legend_y), LEGEND_AVG, font=font(28), fill=INK, anchor="lm")
    return _save(image.convert("RGB"), path)
