"""`kb lint`: check the scaling-law numbers a draft quotes against the papers.

A claim is a number near the name of a stored paper (its short name, first author, bibkey,
or a model it introduced) and the name of a quantity (alpha_N, "data exponent", E, N_c,
"tokens per parameter", ...), in Markdown, LaTeX or plain text. Each claim is attributed to
stored constants and judged:

    ok             matches the printed value within the precision of the two numbers
    wrong          contradicts the paper (the paper's value and location are reported)
    misattributed  the number is in the paper (or the catalog) but for another quantity or law
    unverifiable   attributed to a paper that prints no such number
    unattributed   (verbose only) a number the linter could not tie to a paper and quantity

Every paper value comes from the catalog (`laws/*.toml`) and `references.bib`; this module
holds only vocabulary (how people write quantity names). Import-light: the catalog loads on
first use, numpy only when a formula claim is evaluated.
"""

from .claims import _Linter
from .document import _Doc
from .knowledge import _index  # noqa: F401  (bench/lint.py builds the index once, timed apart)
from .report import VERDICTS, Finding, format_finding  # noqa: F401  (public API)


def lint_text(text: str, name: str = "-", verbose: bool = False) -> "list[Finding]":
    """All findings in one text; numbers that cannot be attributed only with verbose=True."""
    linter = _Linter(_Doc(text, name), verbose)
    linter.run()
    seen, out = set(), []
    for f in sorted(linter.out, key=lambda f: (f.line, f.col)):
        k = (f.line, f.col, f.verdict, f.claim)
        if k not in seen:
            seen.add(k)
            out.append(f)
    return out


def _read(path: str) -> "tuple[str, str]":
    from ..bounded import read_text  # bounded, and strict UTF-8 whatever the locale (stdin too)

    return read_text(path, what="draft"), str(path)


def lint_paths(paths, verbose: bool = False) -> dict:
    """{"findings": [...], "summary": {verdict: count}} for files ('-' is stdin)."""
    texts = [_read(str(p)) for p in paths]  # read everything first: a bad path fails before any output
    findings = []
    for text, name in texts:
        for f in lint_text(text, name, verbose=verbose):
            if f.verdict == "unattributed" and not verbose:
                continue
            findings.append(f.as_dict())
    summary = {v: 0 for v in VERDICTS if v != "unattributed" or verbose}
    for f in findings:
        summary[f["verdict"]] = summary.get(f["verdict"], 0) + 1
    return {"findings": findings, "summary": summary}
