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


def flops(value, digits: int = 3) -> str:
    """Compute as 1.00e19 (no '+', fixed significant digits), for narrow tables."""
    text = sig(value, digits)
    return text.replace("e+", "e")


def si(value, digits: int = 3) -> str:
    """Counts (parameters, tokens) with suffixes: 4.68B, 1.50T; fixed significant digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    for suffix, factor in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if factor <= abs(value) < factor * 1000:
            return sig(value / factor, digits) + suffix
    return sig(value, digits)


def wrap(text: str, indent: str = "  ") -> str:
    """A paragraph wrapped to the terminal; blank lines before it are kept."""
    lead = text[:len(text) - len(text.lstrip("\n"))]
    return lead + textwrap.fill(text.lstrip("\n"), width=width(), subsequent_indent=indent,
                                break_long_words=True, break_on_hyphens=False)


def fit_table(headers, rows, limit: "int | None" = None, left=(0,), shrink=None) -> str:
    """Columns of text: those in `left` left-aligned, the rest (numbers) right-aligned. When the
    lines would exceed the terminal, columns are wrapped onto continuation lines until they fit:
    those in `shrink` first (in that order, down to 16 characters), else the widest."""
    limit = limit or width()
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    gap = 2

    def excess():
        return sum(widths) + gap * (len(widths) - 1) - limit

    for i in shrink or ():
        if excess() > 0:
            widths[i] = max(16, widths[i] - excess(), min(widths[i], 16))
    while excess() > 0:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        new = max(8, widths[widest] - excess())
        if new >= widths[widest]:
            break  # nothing more to gain: every column is already narrow
        widths[widest] = new
    lines = []
    for n, r in enumerate(cells):
        parts = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""]
                 for c, w in zip(r, widths)]
        for k in range(max(len(p) for p in parts)):
            texts = [(p[k] if k < len(p) else "") for p in parts]
            line = "  ".join(t.ljust(w) if i in left else t.rjust(w) for i, (t, w) in enumerate(zip(texts, widths)))
            lines.append(line.rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
