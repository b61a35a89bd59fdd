"""Small server-side charts as inline SVG (no JavaScript, works offline, prints well).  Pure functions.

Every text is escaped; the result is safe to put into a page as is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

_PAD_L, _PAD_R, _PAD_T, _PAD_B = 40, 12, 24, 26


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    t = escape(title)
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{t}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{t}</title>'
            f'<text x="{_PAD_L}" y="15" class="chart-title">{t}</text>' + "".join(body) + "</svg>")


def _y_axis(width: int, height: int, y_max: float, percent: bool, ticks: int = 4) -> list[str]:
    out = []
    plot_h = height - _PAD_T - _PAD_B
    for i in range(ticks + 1):
        v = y_max * i / ticks
        y = _PAD_T + plot_h * (1 - i / ticks)
        label = f"{v * 100:.0f}%" if percent else f"{v:g}"
        out.append(f'<line x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{_PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">{label}</text>')
    return out


def nice_ceiling(value: float) -> float:
    """The axis top: 4 ticks of a round step (1, 2, 2.5, 5 × 10ⁿ) covering ``value``."""
    if value <= 4:
        return 4.0
    raw = value / 4
    exp = 10 ** math.floor(math.log10(raw))
    step = next(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp >= raw)
    return step * 4


def _x_labels(labels: Sequence[str], xs: Sequence[float], height: int) -> list[str]:
    step = max(1, math.ceil(len(labels) / 12))
    last = len(labels) - 1
    shown = {i for i in range(0, len(labels), step)}
    if last - max(shown, default=0) >= max(1, step * 0.6):  # the last label too, unless it would overlap
        shown.add(last)
    return [f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" class="tick">{escape(lab)}</text>'
            for i, (lab, x) in enumerate(zip(labels, xs, strict=True)) if i in shown]


def line_chart(points: Sequence[tuple[str, float | None]], *, title: str, threshold: float | None = None,
               threshold_label: str = "", width: int = 640, height: int = 200, y_max: float = 1.0,
               percent: bool = True) -> str:
    """A line per day (gaps where the value is None, e.g. 停工 days), an optional dashed threshold line."""
    if not points:
        return _frame(width, height, title, [f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                                             'class="tick">暂无数据</text>'])
    plot_w = width - _PAD_L - _PAD_R
    plot_h = height - _PAD_T - _PAD_B
    n = len(points)
    xs = [_PAD_L + (plot_w * (i + 0.5) / n) for i in range(n)]

    def y_of(v: float) -> float:
        return _PAD_T + plot_h * (1 - min(max(v, 0.0), y_max) / y_max)

    body = _y_axis(width, height, y_max, percent)
    segments: list[list[str]] = [[]]
    dots = []
    for (label, v), x in zip(points, xs, strict=True):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{x:.1f},{y_of(v):.1f}")
        shown = f"{v * 100:.1f}%" if percent else f"{v:g}"
        dots.append(f'<circle cx="{x:.1f}" cy="{y_of(v):.1f}" r="2.5" class="dot"><title>{escape(label)}：'
                    f"{shown}</title></circle>")
    for seg in segments:
        if len(seg) > 1:
            body.append(f'<polyline points="{" ".join(seg)}" class="line"/>')
    body += dots
    if threshold is not None:
        ty = y_of(threshold)
        body.append(f'<line x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{ty:.1f}" y2="{ty:.1f}" class="threshold"/>'
                    f'<text x="{width - _PAD_R}" y="{ty - 4:.1f}" text-anchor="end" class="threshold-label">'
                    f"{escape(threshold_label)}</text>")
    body += _x_labels([p[0] for p in points], xs, height)
    return _frame(width, height, title, body)


def bar_chart(bars: Sequence[tuple[str, float, str]], *, title: str, width: int = 640, height: int = 200) -> str:
    """Bars (label, value, css class — e.g. "suspended" for 停工 days drawn as hatched placeholders)."""
    if not bars:
        return _frame(width, height, title, [f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                                             'class="tick">暂无数据</text>'])
    y_max = nice_ceiling(max((v for _l, v, _c in bars), default=0.0))
    plot_w = width - _PAD_L - _PAD_R
    plot_h = height - _PAD_T - _PAD_B
    n = len(bars)
    slot = plot_w / n
    bw = min(36.0, max(2.0, slot * 0.7))
    xs = [_PAD_L + slot * (i + 0.5) for i in range(n)]
    body = _y_axis(width, height, y_max, False)
    for (label, v, cls), x in zip(bars, xs, strict=True):
        if cls == "suspended":
            body.append(f'<rect x="{x - bw / 2:.1f}" y="{_PAD_T}" width="{bw:.1f}" height="{plot_h}" '
                        f'class="bar suspended"><title>{escape(label)}：停工</title></rect>')
            continue
        h = plot_h * (min(v, y_max) / y_max)
        body.append(f'<rect x="{x - bw / 2:.1f}" y="{_PAD_T + plot_h - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                    f'class="bar {escape(cls)}"><title>{escape(label)}：{v:g}</title></rect>')
    body += _x_labels([b[0] for b in bars], xs, height)
    return _frame(width, height, title, body)
