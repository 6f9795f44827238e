"""Allocation claims about concrete (N, D) pairs: tables whose rows are relative compute budgets
("1x | 1B params | 20B tokens", "10x | 5.5B | 50B"), a pair called compute-optimal
("13B ... 1T tokens (Chinchilla-optimal)"), a pair said to be the optimum at the same compute as
another pair, and a pair a named model "should have been" (its compute from the models table).

Expected values: growth k^p with the allocation exponents of the paper in scope; compute from
C = 6ND; the optimum from the paper's rule of thumb (tokens per parameter) where it has one, else
its headline allocation.
"""

import math
import re
from functools import lru_cache

from .judge import _fmt

_SIZE = re.compile(r"(?<![\w.])(?P<v>\d+(?:\.\d+)?)\s*(?P<s>[KMBT])\b(?:\s*(?P<u>params?|parameters|tokens?))?")
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_REL_ROW = re.compile(r"^\|\s*(?P<k>\d+(?:\.\d+)?)\s*[×x]\s*\|")
_OPTIMAL = re.compile(r"(?:chinchilla|compute)[- ]optimal|\boptimal\b", re.I)
# a pair compared with the optimum ("7x more than Chinchilla-optimal") is no claim that it is optimal
_COMPARED = re.compile(r"\b(?:more|less|fewer|larger|smaller) than\b|\bbeyond\b|\b(?:over|under)-?train\w*", re.I)
_SHOULD = re.compile(r"should have been|would have been|optimal (?:would|size) (?:be|is)", re.I)


def _sizes(text: str):
    """[(value, 'params'|'tokens'|None, start, end)] for 70B / 3.5T tokens / 400M params."""
    out = []
    for m in _SIZE.finditer(text):
        u = (m.group("u") or "").lower()
        dim = "tokens" if u.startswith("token") else "params" if u.startswith("param") else None
        out.append((float(m.group("v")) * _SCALE[m.group("s")], dim, m.start(), m.end()))
    return out


def _pair(text: str):
    """(N, D) from a text that names one size of each kind (untyped sizes: the smaller is N)."""
    sz = _sizes(text)
    n = [v for v, d, *_ in sz if d == "params"]
    d = [v for v, dd, *_ in sz if dd == "tokens"]
    loose = [v for v, dd, *_ in sz if dd is None]
    if not n and loose:
        n = [min(loose)] if d or len(loose) > 1 else []
    if not d and len(loose) > 1:
        d = [max(loose)]
    return (n[0], d[0]) if n and d else None


@lru_cache(maxsize=1)
def _model_table():
    """(one regex over every model name and alias, name -> model), built once per process."""
    try:
        from ..models import load_models
    except ImportError:  # no models table in this installation
        return None
    names = {n: m for m in load_models() for n in (m.name, *m.aliases)}
    alts = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])"), names


class AllocationClaims:
    def _rule_ratio(self, src):
        """Tokens per parameter at the optimum: the paper's rule of thumb, else None."""
        thumbs = self.ix.rule_of_thumb.get(src, [])
        return float(thumbs[0][0]) if thumbs else None

    def pairs(self, a, b, mentions, ctx):
        """One sentence: the shapes above, each judged at most once."""
        s = self.doc.norm[a:b]
        if not _SIZE.search(s):
            return
        src = self._source_at(a, mentions, ctx)
        named = re.search(r"([A-Z][\w]+)[- ]optimal", s)  # "Chinchilla-optimal": the name is glued to the word
        if named and named.group(1) in self.ix.name_map:
            src = self.ix.name_map[named.group(1)]
        header = self.doc.table_header(a)
        if header and "|" in s:
            cells = s.split("|")[1:-1]
            heads = header.split("|")[1:-1]
            pairs = [(_pair(c), h) for c, h in zip(cells, heads)]
            given = [p for p, h in pairs if p and not _OPTIMAL.search(h)]
            claimed = [p for p, h in pairs if p and _OPTIMAL.search(h)]
            if given and claimed:
                self._same_compute(a, s, given[0], claimed[0], src)
            elif _REL_ROW.match(s):
                self._relative_row(a, s, header, src)
            return
        if _OPTIMAL.search(s) and not _SHOULD.search(s) and not _COMPARED.search(s):
            parent = self.doc.list_parent(a) if not _pair(s) else ""
            pair = _pair(s) or _pair(parent + " " + s) or self._model_pair(parent, s)
            if pair:
                self._optimal_pair(a, s, pair, src)
            return
        if _SHOULD.search(s):
            model = self._model_named(s)
            pair = _pair(s[_SHOULD.search(s).end():]) if model else None
            if model and pair:
                self._same_compute(a, s, (model.params, model.tokens), pair, src)

    # ------------------------------------------------------------------ shapes
    def _relative_row(self, a, s, header, src):
        k = float(_REL_ROW.match(s).group("k"))
        if k == 1 or not src:
            return
        base = None
        text = self.doc.norm
        start = text.find(header)
        for row in text[start:a].split("\n"):
            m = _REL_ROW.match(row)
            if m and float(m.group("k")) == 1:
                base = _pair(row)
        here = _pair(s)
        if not base or not here:
            return
        for dim, got, b0 in (("params", here[0], base[0]), ("tokens", here[1], base[1])):
            cands = [v for v in self.ix.by_source.get(src, []) if not v.foreign and ("exp", dim, "compute") in v.roles]
            if not cands:
                return
            if any(abs(got - b0 * k ** v.f) <= b0 * k ** v.f / 10 for v in cands):
                continue
            v = self._primary(cands)
            want = b0 * k ** v.f
            self.add(a, a + len(s), "wrong", v.law, _fmt(want), v.location,
                     f"at {k:g}x the base budget {self._cite(src)} ({v.symbol} = {v.printed}) gives {dim} {_fmt(want)}, not {_fmt(got)}")
            return

    def _optimal_pair(self, a, s, pair, src):
        want = self._rule_ratio(src) if src else None
        if want is None:
            return
        n, d = pair
        if want / 2 <= d / n <= want * 2:
            return
        self.add(a, a + len(s), "wrong", src, f"D/N ≈ {_fmt(want)}", "rule of thumb",
                 f"{_fmt(n)} parameters on {_fmt(d)} tokens is D/N = {_fmt(d / n)}, not compute-optimal "
                 f"by {self._cite(src)} (≈ {_fmt(want)} tokens per parameter)")

    def _same_compute(self, a, s, given, claimed, src):
        want = self._rule_ratio(src) if src else None
        if want is None:
            return
        c = 6 * given[0] * given[1]
        n_opt = math.sqrt(c / (6 * want))
        n, d = claimed
        if abs(math.log(n / n_opt)) <= math.log(1.5) and abs(math.log(6 * n * d / c)) <= math.log(1.5):
            return
        self.add(a, a + len(s), "wrong", src, f"{_fmt(n_opt)} params, {_fmt(want * n_opt)} tokens", "rule of thumb with C = 6ND",
                 f"at C = 6ND = {c:.3g} FLOP the optimum by {self._cite(src)} (≈ {_fmt(want)} tokens per parameter) is "
                 f"{_fmt(n_opt)} parameters on {_fmt(want * n_opt)} tokens, not {_fmt(n)} on {_fmt(d)}")

    # ------------------------------------------------------------------ models
    def _model_named(self, s):
        table = _model_table()
        if table is None:
            return None
        m = table[0].search(s.lower())
        return table[1][m.group(0)] if m else None

    def _model_pair(self, parent, s):
        m = self._model_named(parent + " " + s)
        return (m.params, m.tokens) if m else None
