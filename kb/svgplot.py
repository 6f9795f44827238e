"""Small hand-written log-log SVG line charts (a few KB, no matplotlib).

Axes carry major ticks at powers of ten (labelled 10^k) and minor ticks at 2..9 x 10^k
(labelled too when the axis spans little more than a decade, as a loss axis does). Each
series is drawn solid where both ends of a segment lie inside the law's fitted range and
dashed where it extrapolates; the legend names the series and the two line styles and sits
in the corner with the fewest data points.

Every text that enters the SVG is escaped; the chart is inline in reports.
"""

import math
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
MARKERS = ("circle", "square", "diamond", "triangle")
DASH = "6 4"


def loglog(series, title: str, xlabel: str, ylabel: str, width: int = 640, height: int = 380,
           points=()) -> str:
    """series: [{"label", "x": [...], "y": [...], "solid": [bool per point] (optional),
    "line": False (points only), "markers": False (line only)}].
    points: single labelled markers drawn over the lines (real models against the laws):
    [{"label", "x", "y", "series": index of the series whose colour it takes, or None}]."""
    points = [p for p in points if _ok(p["x"]) and _ok(p["y"])]
    pts = [(x, y) for s in series for x, y in zip(s["x"], s["y"]) if _ok(x) and _ok(y)]
    pts += [(p["x"], p["y"]) for p in points]
    if not pts:
        return ""
    left, right, top, bottom = 78, 20, 34, 56
    xa, xb, xticks = _axis(min(p[0] for p in pts), max(p[0] for p in pts))
    ya, yb, yticks = _axis(min(p[1] for p in pts), max(p[1] for p in pts))
    pw, ph = width - left - right, height - top - bottom

    def sx(x):
        return left + (math.log10(x) - xa) / (xb - xa) * pw

    def sy(y):
        return top + ph - (math.log10(y) - ya) / (yb - ya) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}" class="plot" font-family="system-ui, sans-serif">',
           f'<title>{escape(title)}</title>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#444"/>',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>']
    for value, label, major in xticks:
        x = sx(value)
        if major:
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        out.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + (6 if major else 3)}" stroke="#444"/>')
        if label:
            out.append(f'<text x="{x:.1f}" y="{top + ph + 19}" text-anchor="middle" font-size="11">{label}</text>')
    for value, label, major in yticks:
        y = sy(value)
        if major or label:
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#{"ddd" if major else "eee"}"/>')
        out.append(f'<line x1="{left - (6 if major else 3)}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#444"/>')
        if label:
            out.append(f'<text x="{left - 9}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle" font-size="12">{escape(xlabel)}</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 16 {top + ph / 2})">{escape(ylabel)}</text>')
    dashed_any = False
    screen = []
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        xy = [(x, y, ok) for x, y, ok in zip(s["x"], s["y"], s.get("solid") or [True] * len(s["x"]))
              if _ok(x) and _ok(y)]
        # solid where both ends lie in the fitted range, dashed where the law extrapolates;
        # a series with line=False is a scatter of data, markers=False a smooth curve
        for j in range(len(xy) - 1 if s.get("line", True) else 0):
            (x0, y0, s0), (x1, y1, s1) = xy[j], xy[j + 1]
            dashed = not (s0 and s1)
            dashed_any |= dashed
            dash = f' stroke-dasharray="{DASH}"' if dashed else ""
            out.append(f'<line x1="{sx(x0):.1f}" y1="{sy(y0):.1f}" x2="{sx(x1):.1f}" y2="{sy(y1):.1f}" '
                       f'stroke="{color}" stroke-width="2.2"{dash}/>')
        for x, y, inside in xy:
            if s.get("markers", True):
                out.append(_marker(MARKERS[i % len(MARKERS)], sx(x), sy(y), color, filled=inside))
            screen.append((sx(x), sy(y)))
    for p in points:
        x, y = sx(p["x"]), sy(p["y"])
        color = "#111" if p.get("series") is None else PALETTE[p["series"] % len(PALETTE)]
        right = x > left + 0.7 * pw  # near the right edge the label goes to the left of the star
        out.append(f'<g class="model-marker"><title>{escape(str(p["label"]))}</title>'
                   f'{_star(x, y, color)}<text x="{x - 7 if right else x + 7:.1f}" y="{y - 6:.1f}" '
                   f'text-anchor="{"end" if right else "start"}" font-size="10">{escape(str(p["label"]))}</text></g>')
        screen.append((x, y))
    out += _legend(series, dashed_any, screen, left, top, pw, ph, bool(points))
    out.append("</svg>")
    return "\n".join(out)


def _star(x: float, y: float, color: str) -> str:
    """A five-pointed star: the marker of a real model, unlike any series marker."""
    pts = []
    for k in range(10):
        r = 6.0 if k % 2 == 0 else 2.6
        a = math.pi / 2 + k * math.pi / 5
        pts.append(f"{x + r * math.cos(a):.1f},{y - r * math.sin(a):.1f}")
    return f'<polygon points="{" ".join(pts)}" fill="{color}" stroke="#fff" stroke-width="0.8"/>'


def _legend(series, dashed_any, screen, left, top, pw, ph, models=False) -> list:
    entries = [(PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)], str(s["label"]), "") for i, s in enumerate(series)]
    if dashed_any:
        entries += [("#555", "", "inside the fitted range", ""), ("#555", "", "extrapolated", DASH)]
    if models:
        entries.append(("#111", "star", "trained model (labelled)", ""))
    w = min(pw - 16, 56 + 6.4 * max(len(e[2]) for e in entries))
    h = 10 + 18 * len(entries)
    corners = [(left + 8, top + 8), (left + pw - 8 - w, top + 8), (left + 8, top + ph - 8 - h),
               (left + pw - 8 - w, top + ph - 8 - h)]

    def crowd(corner):
        cx, cy = corner
        return sum(cx - 4 <= x <= cx + w + 4 and cy - 4 <= y <= cy + h + 4 for x, y in screen)

    bx, by = min(corners, key=crowd)
    out = [f'<g class="legend"><rect x="{bx:.1f}" y="{by:.1f}" width="{w:.1f}" height="{h}" fill="#fff" '
           f'fill-opacity="0.9" stroke="#bbb"/>']
    for k, (color, marker, label, dash) in enumerate(entries):
        ly = by + 14 + 18 * k
        style = f' stroke-dasharray="{dash}"' if dash else ""
        if marker == "star":
            out.append(_star(bx + 24, ly, color))
            out.append(f'<text x="{bx + 48:.1f}" y="{ly + 4:.1f}" font-size="12">{escape(label)}</text>')
            continue
        out.append(f'<line x1="{bx + 8:.1f}" y1="{ly:.1f}" x2="{bx + 40:.1f}" y2="{ly:.1f}" stroke="{color}" '
                   f'stroke-width="2.2"{style}/>')
        if marker:
            out.append(_marker(marker, bx + 24, ly, color, filled=True))
        out.append(f'<text x="{bx + 48:.1f}" y="{ly + 4:.1f}" font-size="12">{escape(label)}</text>')
    out.append("</g>")
    return out


def _marker(kind: str, x: float, y: float, color: str, filled: bool) -> str:
    fill = color if filled else "#fff"
    common = f'fill="{fill}" stroke="{color}" stroke-width="1.5"'
    if kind == "square":
        return f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" {common}/>'
    if kind == "diamond":
        return f'<path d="M{x:.1f} {y - 4:.1f}L{x + 4:.1f} {y:.1f}L{x:.1f} {y + 4:.1f}L{x - 4:.1f} {y:.1f}Z" {common}/>'
    if kind == "triangle":
        return f'<path d="M{x:.1f} {y - 4:.1f}L{x + 4:.1f} {y + 3:.1f}L{x - 4:.1f} {y + 3:.1f}Z" {common}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" {common}/>'


def _ok(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _power(k: int) -> str:
    """10^k as SVG text with a superscript."""
    return f'10<tspan dy="-5" font-size="8">{k}</tspan><tspan dy="5"></tspan>' if k not in (0, 1) else ("1" if k == 0 else "10")


def _plain(v: float) -> str:
    return f"{v:g}" if 1e-3 <= v < 1e5 else f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _axis(lo: float, hi: float) -> "tuple[float, float, list]":
    """(log10 start, log10 end, [(value, label, major)]) for a log axis covering [lo, hi]."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    b = max(b, a + 1)
    if b - a >= 2:  # several decades: whole decades, labelled 10^k (every other one past 8 decades)
        step = max(1, math.ceil((b - a) / 8))
        ticks = []
        for k in range(a, b + 1):
            ticks.append((10.0 ** k, _power(k) if (k - a) % step == 0 else "", True))
            if k < b and b - a <= 12:
                ticks += [(m * 10.0 ** k, "", False) for m in range(2, 10)]
        return float(a), float(b), ticks
    # about one decade (a loss axis): snap to the 1..9 x 10^k grid around the data, label each tick
    grid = [m * 10.0 ** k for k in range(a - 1, b + 1) for m in range(1, 10)]
    start = max(v for v in grid if v <= lo * (1 + 1e-12))
    end = min(v for v in grid if v >= hi * (1 - 1e-12))
    if end <= start:
        end = next(v for v in grid if v > start)
    inside = [v for v in grid if start * (1 - 1e-12) <= v <= end * (1 + 1e-12)]
    every = 1 if len(inside) <= 10 else 2
    ticks = [(v, _plain(v) if (i % every == 0 or v == end) else "", abs(math.log10(v) - round(math.log10(v))) < 1e-9)
             for i, v in enumerate(inside)]
    return math.log10(start), math.log10(end), ticks
