"""Text for a terminal: tables and paragraphs that fit its width (COLUMNS or the real one).

A table too wide for the terminal wraps its widest text column rather than spilling over."""

import math
import shutil
import textwrap


def width() -> int:
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def sig(value, digits: int = 4) -> str:
    """A number with a fixed count of significant digits (trailing zeros kept: 2.700, 1.00e+19)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:#.{digits}g}".rstrip(".")


def wrap(text: str, indent: str = "  ") -> str:
    """A paragraph wrapped to the terminal; blank lines before it are kept."""
    lead = text[:len(text) - len(text.lstrip("\n"))]
    return lead + textwrap.fill(text.lstrip("\n"), width=width(), subsequent_indent=indent,
                                break_long_words=True, break_on_hyphens=False)


def fit_table(headers, rows, limit: "int | None" = None) -> str:
    """Columns of text, the first left-aligned and the rest right-aligned. When the lines would
    exceed the terminal, the widest column is wrapped onto continuation lines until they fit."""
    limit = limit or width()
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    gap = 2
    while sum(widths) + gap * (len(widths) - 1) > limit:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        others = sum(widths) - widths[widest] + gap * (len(widths) - 1)
        new = max(8, limit - others)
        if new >= widths[widest]:
            break  # nothing more to gain: the other columns alone are too wide
        widths[widest] = new
    lines = []
    for n, r in enumerate(cells):
        parts = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
                 for c, w in zip(r, widths)]
        for k in range(max(len(p) for p in parts)):
            line = "  ".join((p[k] if k < len(p) else "").rjust(w) if i else (p[k] if k < len(p) else "").ljust(w)
                             for i, (p, w) in enumerate(zip(parts, widths)))
            lines.append(line.rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
