"""Scoring `kb lint` against hand grades: a graded corpus is a folder of texts, `graded.tsv`
(file, line, verdict, paper value, location, claim shape, note) and `sources.json` (per file:
source URL, licence, split "dev" or "held-out"). A line's predicted verdict is the worst finding on
it; recall counts graded wrong + misattributed lines flagged wrong or misattributed, the false-flag
rate counts graded ok lines flagged so. Unverifiable grades are in neither figure.
"""

import json
from collections import defaultdict
from pathlib import Path

FLAGS = ("wrong", "misattributed")
_RANK = {"wrong": 3, "misattributed": 3, "ok": 2, "unverifiable": 1}


def load(folder) -> "tuple[list[tuple], dict]":
    """([(file, line, verdict, shape)], sources) of a graded corpus."""
    folder = Path(folder)
    sources = json.loads((folder / "sources.json").read_text(encoding="utf-8"))
    grades = []
    for row in (folder / "graded.tsv").read_text(encoding="utf-8").splitlines():
        if not row.strip() or row.startswith("#"):
            continue
        cells = (row.split("\t") + [""] * 7)[:7]
        grades.append((cells[0], int(cells[1]), cells[2], cells[5] or "other"))
    return grades, sources


def line_verdicts(findings) -> dict:
    """(file name, line) -> the worst verdict found on that line."""
    out = {}
    for f in findings:
        if f["verdict"] == "unattributed":
            continue
        k = (Path(f["file"]).name, f["line"])
        if k not in out or _RANK[f["verdict"]] > _RANK[out[k]]:
            out[k] = f["verdict"]
    return out


def score(grades, got, keep=lambda name: True) -> dict:
    """{shape: {"flagged": n, "caught": n, "ok": n, "false": n}} plus "all", for the files kept."""
    per = defaultdict(lambda: {"flagged": 0, "caught": 0, "ok": 0, "false": 0})
    misses = []
    for name, line, verdict, shape in grades:
        if not keep(name):
            continue
        flagged = got.get((name, line)) in FLAGS
        for key in (shape, "all"):
            if verdict in FLAGS:
                per[key]["flagged"] += 1
                per[key]["caught"] += flagged
            elif verdict == "ok":
                per[key]["ok"] += 1
                per[key]["false"] += flagged
        if (verdict in FLAGS and not flagged) or (verdict == "ok" and flagged):
            misses.append((name, line, verdict, got.get((name, line), "none")))
    return {"shapes": dict(per), "misses": misses}


def rates(row: dict) -> "tuple[float | None, float | None]":
    recall = row["caught"] / row["flagged"] if row["flagged"] else None
    false = row["false"] / row["ok"] if row["ok"] else None
    return recall, false
