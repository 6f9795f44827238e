"""Numbers as written: 70B, 3.5T, 2e23, 10^23, 6 x 10^13, 5%, with their printed digits."""

import re
from dataclasses import dataclass
from decimal import Decimal


_SCALE = {"thousand": 3, "k": 3, "K": 3, "million": 6, "M": 6, "billion": 9, "B": 9, "bn": 9,
          "trillion": 12, "T": 12}
NUM_RE = (r"(?<![\w.])(?P<sign>[-+]?)(?P<mant>\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)"
          r"(?:(?P<e>[eE][-+]?\d+)|\s*[×x·*]\s*10\s*\^\s*\(?(?P<p>[-+]?\d+)\)?"
          r"|(?P<sw>\s?(?:thousand|million|billion|trillion)\b|(?:[kKMBT]|bn)(?![A-Za-z]))"
          r"|(?P<pct>\s?(?:%|percent\b)))?")
_NUM = re.compile(NUM_RE)
_POW10 = re.compile(r"(?<![\w.])10\s*\^\s*\(?(?P<p>[-+]?\d+)\)?")
_NUMBER_TOKEN = re.compile(r"\d")


@dataclass
class _Number:
    start: int  # in normalised text
    end: int
    value: Decimal
    percent: bool = False

    @property
    def f(self) -> float:
        return float(self.value)


def _numbers(text: str) -> "list[_Number]":
    found = []
    pow10 = [(m.start(), m.end(), int(m.group("p"))) for m in _POW10.finditer(text)]
    for a, b, p in pow10:
        found.append(_Number(a, b, Decimal(1).scaleb(p)))
    taken = [(a, b) for a, b, _ in pow10]
    for m in _NUM.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        if m.group("p"):  # 8.8 x 10^13: drop the bare 10^13 inside it
            found = [x for x in found if not (m.start() <= x.start < m.end())]
        s = text[max(0, m.start() - 2):m.start()]
        if re.search(r"[A-Za-z]-$|[A-Za-z]$", s) and not re.search(r"[=(]", s):
            continue  # GPT-3, L2, x86
        mant = Decimal(m.group("mant").replace(",", ""))
        if m.group("sign") == "-":
            mant = -mant
        pct = bool(m.group("pct"))
        if m.group("e"):
            value = Decimal(m.group("mant").replace(",", "") + m.group("e"))
            value = -value if m.group("sign") == "-" else value
        elif m.group("p"):
            value = mant.scaleb(int(m.group("p")))
        elif m.group("sw"):
            value = mant.scaleb(_SCALE[m.group("sw").strip()])
        elif pct:
            value = mant.scaleb(-2)
        else:
            value = mant
        found.append(_Number(m.start(), m.end(), value, pct))
    found.sort(key=lambda x: x.start)
    return found
