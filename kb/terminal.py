"""Text for a terminal: tables and paragraphs that fit its width (COLUMNS or the real one).

A table too wide for the terminal wraps its widest text column rather than spilling over."""

import math
import re
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


_BREAK_CHARS = "\t\n\x0b\x0c\r"  # what textwrap turns into spaces or breaks at
_BREAKS = frozenset(_BREAK_CHARS)
_BREAK = re.compile(f"[{_BREAK_CHARS}]")


def _fits(text: str, width: int) -> bool:
    """textwrap would give this cell back as it is: it fits, has no break character and no
    space at either end."""
    return len(text) <= width and text == text.strip() and _BREAKS.isdisjoint(text)


def _cell(text: str, width: int) -> "list[str]":
    """textwrap.wrap(text, width) or [""], without textwrap for a cell that already fits on one
    line (a list of 1e5 laws is mostly such cells): the same lines, tested in test_terminal."""
    if _fits(text, width):
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def fit_table(headers, rows, limit: "int | None" = None, left=(0,), shrink=None) -> str:
    """Columns of text: those in `left` left-aligned, the rest (numbers) right-aligned. When the
    lines would exceed the terminal, columns are wrapped onto continuation lines until they fit:
    those in `shrink` first (in that order, down to 16 characters), else the widest."""
    limit = limit or width()
    # column by column (map and zip run in C): a list of 1e5 laws is 4e5 cells
    columns = [[str(h)] + list(map(str, col)) for h, col in zip(headers, zip(*rows))] if rows else \
        [[str(h)] for h in headers]
    widths = [max(map(len, col)) for col in columns]
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
    # A cell that already fits on one line is printed as it is (what textwrap would give, see
    # _cell): only the others go through textwrap, so a row of short cells costs one format.
    wrapped = {}  # (row, column) -> lines, for the cells textwrap may change
    for i, (col, w) in enumerate(zip(columns, widths)):
        if max(map(len, col)) <= w and not _BREAK.search("".join(col)) and list(map(str.strip, col)) == col:
            continue
        for n, c in enumerate(col):
            if not _fits(c, w):
                wrapped[n, i] = _cell(c, w)
    row_format = "  ".join(("{:<%d}" if i in left else "{:>%d}") % w for i, w in enumerate(widths)).format
    lines = list(map(str.rstrip, map(row_format, *columns)))
    header = 1
    for n in sorted({n for n, _ in wrapped}, reverse=True):  # from the end: indices stay valid
        parts = [wrapped.get((n, i), [col[n]]) for i, col in enumerate(columns)]
        lines[n:n + 1] = [row_format(*[(p[k] if k < len(p) else "") for p in parts]).rstrip()
                          for k in range(max(len(p) for p in parts))]
        if n == 0:
            header = max(len(p) for p in parts)
    lines.insert(header, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
