"""fit_table's one-line shortcut gives exactly textwrap's lines."""

import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from kb.terminal import _cell, fit_table

TEXT = st.text(alphabet=st.sampled_from(list("ab -.\t\n\r\x0b\x0c\xa0\u3000\u2028")), max_size=14)


@settings(max_examples=3000, deadline=None)
@given(TEXT, st.integers(1, 16))
def test_cell_is_textwrap(text, width):
    assert _cell(text, width) == (textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""])


def test_long_cell_still_wraps():
    out = fit_table(["id", "title"], [["x", "word " * 30]], limit=40, left=(0, 1))
    lines = out.splitlines()
    assert len(lines) > 3 and all(len(line) <= 40 for line in lines)


def _reference(headers, rows, widths, left):
    """The table as textwrap lays it out, cell by cell (fit_table before its shortcut)."""
    lines = []
    for n, r in enumerate([list(map(str, headers))] + [list(map(str, r)) for r in rows]):
        parts = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""] for c, w in zip(r, widths)]
        for k in range(max(len(p) for p in parts)):
            texts = [(p[k] if k < len(p) else "") for p in parts]
            lines.append("  ".join(t.ljust(w) if i in left else t.rjust(w)
                                   for i, (t, w) in enumerate(zip(texts, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, st.integers(-5, 10**6)), min_size=1, max_size=6), st.integers(20, 60))
def test_table_is_textwrap_cell_by_cell(rows, limit):
    for headers in (["id", "title", "n"], ["an identifier", "the title of a law", "n"]):
        out = fit_table(headers, rows, limit=limit, left=(0, 1))
        rule = next(line for line in out.splitlines() if set(line) == {"-", " "} and "--" in line)
        widths = [len(part) for part in rule.split("  ")]
        assert out == _reference(headers, rows, widths, (0, 1))
