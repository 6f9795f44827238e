"""Findings and their one-line form: `file:line:col: verdict: message (location)`."""

from dataclasses import asdict, dataclass


VERDICTS = ("ok", "wrong", "misattributed", "unverifiable", "unattributed")


@dataclass
class Finding:
    file: str
    line: int
    col: int
    verdict: str
    claim: str
    law: str = ""
    paper_value: str = ""
    location: str = ""
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def format_finding(f) -> str:
    """'file:line:col: verdict: message (paper location)'."""
    d = f if isinstance(f, dict) else f.as_dict()
    loc = f" ({d['location']})" if d.get("location") else ""
    return f"{d['file']}:{d['line']}:{d['col']}: {d['verdict']}: {d['message']}{loc}"
