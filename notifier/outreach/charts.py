"""Charts drawn on the server as SVG (no script, no external service): readable in Japanese, with the
numbers beside the bars, and a text alternative for screen readers."""
from __future__ import annotations

from html import escape

BAR = "#0017c1"          # デジタル庁デザインシステム blue-900
BAR_LIGHT = "#d9e6ff"
TEXT = "#1a1a1a"
FONT = "'Noto Sans JP', 'Noto Sans CJK JP', sans-serif"


def funnel_svg(stages: list[tuple[str, int]], *, title: str, width: int = 640) -> str:
    """Horizontal bars, one per stage, longest first; each bar's label on its left and its count and
    share of the first stage on its right."""
    label_w, value_w, row_h, gap = 170, 150, 28, 10
    top = 8
    height = top + len(stages) * (row_h + gap)
    first = stages[0][1] if stages else 0
    bar_space = width - label_w - value_w
    rows = []
    for i, (label, count) in enumerate(stages):
        y = top + i * (row_h + gap)
        w = 0 if first <= 0 else max(2, round(bar_space * count / first)) if count else 0
        share = f"（{count / first:.0%}）" if first > 0 and i > 0 else ""
        rows.append(
            f'<text x="{label_w - 8}" y="{y + row_h * 0.68:.0f}" text-anchor="end" font-size="14" fill="{TEXT}">'
            f'{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar_space}" height="{row_h}" fill="{BAR_LIGHT}" rx="3"/>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{row_h}" fill="{BAR}" rx="3"/>'
            f'<text x="{label_w + bar_space + 8}" y="{y + row_h * 0.68:.0f}" font-size="14" fill="{TEXT}">'
            f'{count:,}{share}</text>')
    alt = "、".join(f"{label} {count:,}" for label, count in stages)
    return (f'<svg role="img" viewBox="0 0 {width} {height}" width="100%" '
            f'class="chart" font-family="{FONT}" aria-label="{escape(title)}：{escape(alt)}">'
            f'<title>{escape(title)}</title>{"".join(rows)}</svg>')


def columns_svg(points: list[tuple[str, int]], *, title: str, width: int = 640, height: int = 200) -> str:
    """Vertical bars over time (one per label, left to right), each with its count above it and its
    label below; the tallest bar fills the height."""
    n = max(1, len(points))
    top, bottom = 22, 40
    slot = width / n
    bar_w = max(6, slot * 0.6)
    peak = max((c for _, c in points), default=0)
    rows = []
    for i, (label, count) in enumerate(points):
        x = i * slot + (slot - bar_w) / 2
        h = 0 if peak <= 0 else max(1, round((height - top - bottom) * count / peak)) if count else 0
        y = height - bottom - h
        rows.append(
            f'<rect x="{x:.1f}" y="{y}" width="{bar_w:.1f}" height="{h}" fill="{BAR}" rx="2"/>'
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 5}" text-anchor="middle" font-size="12" fill="{TEXT}">{count:,}</text>'
            + _axis_label(label, i, x + bar_w / 2, height - bottom + 16))
    alt = "、".join(f"{label} {count:,}" for label, count in points)
    return (f'<svg role="img" viewBox="0 0 {width} {height}" width="100%" '
            f'class="chart" font-family="{FONT}" aria-label="{escape(title)}：{escape(alt)}">'
            f'<title>{escape(title)}</title>'
            f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#767676"/>'
            f'{"".join(rows)}</svg>')


def _axis_label(label: str, i: int, x: float, y: float) -> str:
    """「2026年1月末」 as 「1月」 with the year on a second line for the first bar and each January."""
    text = label.replace("月末", "月")
    year = ""
    if "年" in text:
        year, text = text.split("年", 1)
        year = year + "年" if i == 0 or text == "1月" else ""
    out = f'<text x="{x:.1f}" y="{y}" text-anchor="middle" font-size="12" fill="{TEXT}">{escape(text)}</text>'
    if year:
        out += f'<text x="{x:.1f}" y="{y + 15}" text-anchor="middle" font-size="11" fill="{TEXT}">{escape(year)}</text>'
    return out
