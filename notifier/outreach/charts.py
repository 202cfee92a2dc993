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
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="100%" '
            f'style="max-width:{width}px" font-family="{FONT}" aria-label="{escape(title)}：{escape(alt)}">'
            f'<title>{escape(title)}</title>{"".join(rows)}</svg>')
