"""Small hand-written log-log SVG line charts (a few KB, no matplotlib).

Every text that enters the SVG is escaped; the chart is inline in reports.
"""

import math
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def loglog(series, title: str, xlabel: str, ylabel: str, width: int = 640, height: int = 380) -> str:
    """series: [{"label", "x": [...], "y": [...], "solid": [bool per point] (optional)}]."""
    pts = [(x, y) for s in series for x, y in zip(s["x"], s["y"]) if _ok(x) and _ok(y)]
    if not pts:
        return ""
    left, right, top, bottom = 78, 20, 34, 52
    x0, x1 = _decades(min(p[0] for p in pts), max(p[0] for p in pts))
    y0, y1 = _decades(min(p[1] for p in pts), max(p[1] for p in pts))
    pw, ph = width - left - right, height - top - bottom

    def sx(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * pw

    def sy(y):
        return top + ph - (math.log10(y) - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}" class="plot">',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#444"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>']
    step = max(1, round((x1 - x0) / 8))
    for d in range(x0, x1 + 1, step):
        x = sx(10.0 ** d)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11">1e{d}</text>')
    step = max(1, round((y1 - y0) / 6))
    for d in range(y0, y1 + 1, step):
        y = sy(10.0 ** d)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">1e{d}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 12}" text-anchor="middle" font-size="12">{escape(xlabel)}</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 16 {top + ph / 2})">{escape(ylabel)}</text>')
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        xy = [(x, y, ok) for x, y, ok in zip(s["x"], s["y"], s.get("solid") or [True] * len(s["x"]))
              if _ok(x) and _ok(y)]
        # one path per run of solid (fitted range) or dashed (extrapolated) points
        for j in range(len(xy) - 1):
            (xa, ya, sa), (xb, yb, sb) = xy[j], xy[j + 1]
            dash = "" if (sa and sb) else ' stroke-dasharray="6 4"'
            out.append(f'<line x1="{sx(xa):.1f}" y1="{sy(ya):.1f}" x2="{sx(xb):.1f}" y2="{sy(yb):.1f}" '
                       f'stroke="{color}" stroke-width="2.2"{dash}/>')
        for x, y, _ in xy:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
        ly = top + 16 + 18 * i
        out.append(f'<line x1="{left + 12}" y1="{ly}" x2="{left + 36}" y2="{ly}" stroke="{color}" stroke-width="2.2"/>')
        out.append(f'<text x="{left + 42}" y="{ly + 4}" font-size="12">{escape(s["label"])}</text>')
    if any(not all(s.get("solid") or [True]) for s in series):
        out.append(f'<text x="{left + pw - 6}" y="{top + ph - 8}" text-anchor="end" font-size="11" fill="#555">'
                   'dashed: outside the fitted range</text>')
    out.append("</svg>")
    return "\n".join(out)


def _ok(v) -> bool:
    return v is not None and math.isfinite(v) and v > 0


def _decades(lo: float, hi: float) -> "tuple[int, int]":
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return (a, b) if b > a else (a, a + 1)
