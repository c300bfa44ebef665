"""Server-drawn SVG charts: no JavaScript, no CDN, printable, and every mark a link.

Each function takes plain values and returns the `<svg>` markup (safe, escaped) for a
template. Marks are wrapped in `<a href>` to the findings or encounters behind them
(drill-down) and carry a `<title>` (the browser's tooltip and the screen reader's text).
Colours come from classes styled in app.css (the CSP allows no inline styles); sizes use a
viewBox, so a chart fills its card's width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
FONT = 11


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    href: str = ""
    detail: str = ""  # the tooltip's second line, e.g. "12 of 40 findings"
    tone: str = ""  # "", "good", "bad", "warn", "muted"
    note: str = ""  # shown after the value, e.g. a trend arrow


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    value: float | None
    low: float | None = None  # interval (e.g. Wilson 95%)
    high: float | None = None
    href: str = ""
    detail: str = ""
    signal: bool = False
    ucl: float | None = None  # per-point control limits (p-chart)
    lcl: float | None = None


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _a(href: str, inner: SafeString, title: str) -> SafeString:
    title_el = format_html("<title>{}</title>", title)
    if not href:
        return format_html("<g>{}{}</g>", title_el, inner)
    return format_html('<a href="{}">{}{}</a>', href, title_el, inner)


def _svg(height: float, body: list[SafeString], label: str, cls: str) -> SafeString:
    return format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMinYMin meet">{}</svg>',
        cls,
        WIDTH,
        f"{height:.0f}",
        label,
        mark_safe("".join(body)),  # every part was built with format_html
    )


def _num(x: float) -> str:
    return f"{x:.1f}"


def bar_chart(
    bars: Sequence[Bar],
    *,
    label: str,
    fmt: Callable[[float], str] = percent,
    max_value: float | None = None,
    label_width: int = 190,
) -> SafeString:
    """Horizontal bars, one row each: label, bar, value (and note). Empty → empty string."""
    if not bars:
        return SafeString("")
    row, top = 22, 4
    top_value = max_value if max_value is not None else max((b.value for b in bars), default=0)
    top_value = top_value or 1.0
    plot = WIDTH - label_width - 90
    body: list[SafeString] = []
    for i, b in enumerate(bars):
        y = top + i * row
        w = max(0.0, min(1.0, b.value / top_value)) * plot
        tone = f" tone-{b.tone}" if b.tone else ""
        text = fmt(b.value) + (f" {b.note}" if b.note else "")
        inner = format_html(
            '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>'
            '<rect class="chart-track" x="{}" y="{}" width="{}" height="14" rx="2"></rect>'
            '<rect class="chart-bar{}" x="{}" y="{}" width="{}" height="14" rx="2"></rect>'
            '<text class="chart-value" x="{}" y="{}">{}</text>',
            label_width - 8,
            _num(y + 11),
            _clip(b.label, label_width // 7),
            label_width,
            _num(y),
            _num(plot),
            tone,
            label_width,
            _num(y),
            _num(max(w, 1.0 if b.value else 0.0)),
            _num(label_width + plot + 6),
            _num(y + 11),
            text,
        )
        body.append(
            _a(b.href, inner, f"{b.label}: {text}" + (f" — {b.detail}" if b.detail else ""))
        )
    return _svg(top + len(bars) * row + 4, body, label, "chart-bars")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


def line_chart(
    points: Sequence[Point],
    *,
    label: str,
    y_min: float = 0.0,
    y_max: float | None = None,
    center: float | None = None,
    center_label: str = "centre",
    fmt: Callable[[float], str] = percent,
    height: int = 220,
) -> SafeString:
    """Values over ordered categories (cycles): a line through the points, interval
    whiskers (low/high), per-point control limits as steps (ucl/lcl), a centre line, and
    signal points drawn larger in the warning colour. Points with no value are gaps."""
    if not points:
        return SafeString("")
    left, right, top, bottom = 48, 16, 10, 34
    values = [
        v
        for p in points
        for v in (p.value, p.high, p.ucl, center if center is not None else None)
        if v is not None
    ]
    hi = y_max if y_max is not None else _nice_top(max(values, default=1.0))
    hi = hi if hi > y_min else y_min + 1.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = plot_w / max(len(points), 1)

    def x(i: int) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        v = min(max(v, y_min), hi)
        return top + plot_h * (1 - (v - y_min) / (hi - y_min))

    body: list[SafeString] = []
    for k in range(5):  # gridlines and y labels
        v = y_min + (hi - y_min) * k / 4
        body.append(
            format_html(
                '<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
                '<text class="chart-axis" x="{}" y="{}" text-anchor="end">{}</text>',
                left,
                WIDTH - right,
                _num(y(v)),
                _num(y(v)),
                left - 6,
                _num(y(v) + 4),
                fmt(v),
            )
        )
    every = max(1, math.ceil(len(points) / 12))
    for i, p in enumerate(points):  # x labels
        if i % every == 0 or i == len(points) - 1:
            body.append(
                format_html(
                    '<text class="chart-axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    _num(x(i)),
                    height - bottom + 16,
                    _clip(p.label, 12),
                )
            )
    for attr, cls in (("ucl", "chart-limit"), ("lcl", "chart-limit")):
        steps = [
            format_html(
                '<line class="{}" x1="{}" x2="{}" y1="{}" y2="{}"></line>',
                cls,
                _num(x(i) - step / 2),
                _num(x(i) + step / 2),
                _num(y(v)),
                _num(y(v)),
            )
            for i, p in enumerate(points)
            if (v := getattr(p, attr)) is not None
        ]
        body.extend(steps)
    if center is not None:
        body.append(
            format_html(
                '<line class="chart-center" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
                '<text class="chart-axis" x="{}" y="{}" text-anchor="end">{} {}</text>',
                left,
                WIDTH - right,
                _num(y(center)),
                _num(y(center)),
                WIDTH - right,
                _num(y(center) - 4),
                center_label,
                fmt(center),
            )
        )
    segment: list[str] = []
    for i, p in enumerate(points):  # the line, broken at gaps
        if p.value is None:
            if len(segment) > 1:
                body.append(_polyline(segment))
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(p.value):.1f}")
    if len(segment) > 1:
        body.append(_polyline(segment))
    for i, p in enumerate(points):
        if p.value is None:
            continue
        whisker = SafeString("")
        if p.low is not None and p.high is not None:
            whisker = format_html(
                '<line class="chart-whisker" x1="{}" x2="{}" y1="{}" y2="{}"></line>',
                _num(x(i)),
                _num(x(i)),
                _num(y(p.low)),
                _num(y(p.high)),
            )
        hit = format_html(
            '<rect class="chart-hit" x="{}" y="{}" width="{}" height="{}"></rect>',
            _num(x(i) - step / 2),
            top,
            _num(step),
            plot_h,
        )
        dot = format_html(
            '<circle class="chart-point{}" cx="{}" cy="{}" r="{}"></circle>',
            " is-signal" if p.signal else "",
            _num(x(i)),
            _num(y(p.value)),
            5 if p.signal else 3.5,
        )
        text = f"{p.label}: {fmt(p.value)}"
        if p.low is not None and p.high is not None:
            text += f" (95% CI {fmt(p.low)}–{fmt(p.high)})"
        if p.signal:
            text += " — signal"
        if p.detail:
            text += f" — {p.detail}"
        body.append(_a(p.href, format_html("{}{}{}", hit, whisker, dot), text))
    return _svg(height, body, label, "chart-line")


def _polyline(points: list[str]) -> SafeString:
    return format_html('<polyline class="chart-path" points="{}"></polyline>', " ".join(points))


def _nice_top(v: float) -> float:
    """A round upper bound at or above v (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, …)."""
    if v <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def sparkline(values: Sequence[float | None], *, label: str) -> SafeString:
    """A tiny trend line (no axes) for a table cell; None values are gaps."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return SafeString("")
    w, h, pad = 80, 20, 2
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    step = (w - 2 * pad) / max(len(values) - 1, 1)
    pts = [
        f"{pad + i * step:.1f},{h - pad - (v - lo) / span * (h - 2 * pad):.1f}"
        for i, v in enumerate(values)
        if v is not None
    ]
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<polyline class="chart-path" points="{}"></polyline></svg>',
        w,
        h,
        label,
        " ".join(pts),
    )


def legend(items: Sequence[tuple[str, str]]) -> SafeString:
    """A small legend: (class, text) pairs, e.g. ("chart-center", "centre line")."""
    return format_html(
        '<ul class="chart-legend">{}</ul>',
        mark_safe(  # the parts are escaped below
            "".join(
                f'<li><span class="swatch {escape(cls)}"></span>{escape(text)}</li>'
                for cls, text in items
            )
        ),
    )
