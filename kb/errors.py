"""Errors that reach the user as one line on stderr and exit status 2.

Anything a user can get wrong (an id, a number, a unit, a formula, a file) raises a
KbError subclass; the CLI prints ``str(error)`` and exits 2. Other exceptions are bugs.
"""

import difflib


class KbError(Exception):
    """Bad input: the CLI prints the message on one line and exits with status 2."""

    exit_code = 2

    def __str__(self) -> str:  # one line, always
        return " ".join(super().__str__().split())


class UnknownId(KbError):
    def __init__(self, what: str, given: str, known: "list[str] | tuple[str, ...]"):
        self.given = given
        self.closest = closest(given, known)
        hint = f"; closest: {', '.join(self.closest)}" if self.closest else ""
        super().__init__(f"unknown {what} '{given}'{hint}")


class BadNumber(KbError):
    pass


class BadUnit(KbError):
    pass


class BadFormula(KbError):
    pass


class BadFile(KbError):
    pass


class MissingConstants(KbError):
    pass


class SolveError(KbError):
    pass


def closest(given: str, known, n: int = 3) -> "list[str]":
    """The known ids nearest to `given`: close spellings first, then ids sharing its prefix."""
    known = sorted(set(known))
    hits = difflib.get_close_matches(given, known, n=n, cutoff=0.6)
    if len(hits) < n:
        low = given.lower()
        for k in known:
            if k not in hits and (k.lower().startswith(low) or low.split(".")[0] == k.lower().split(".")[0]):
                hits.append(k)
            if len(hits) >= n:
                break
    if not hits:  # nothing close: still name the nearest few, so the user sees what exists
        hits = difflib.get_close_matches(given, known, n=n, cutoff=0.0)
    return hits
