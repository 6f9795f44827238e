"""Claims derived from a paper's exponents: the loss change when one resource grows k-fold
("10x parameters -> 16% lower loss", a table row under a "10x resource" header) and the growth of
the optimal model and data when compute grows k-fold ("at 100x the compute, grow the model ~29x").

The sentence is tokenised once (multipliers, percentages, resource words); each multiplier is tied
to the nearest resource word. Expected values come from the catalog: loss exponents
(role ("exp", "loss", dim)) and allocation exponents (("exp", "params"|"tokens", "compute")) of the
paper in scope; any of the paper's fits that matches makes the claim ok.
"""

import re
from decimal import Decimal

from .judge import _fmt, _ulp

# a multiplier as written: 10x, 10×, 1.66×, 5.4 times, tenfold, doubling
_MULT = re.compile(r"(?<![\w.^])(?P<k>\d+(?:\.\d+)?)\s*(?:x|×|X|-?fold|times)(?![\w])|(?P<word>doubl\w*|tenfold|hundredfold|thousandfold)", re.I)
_WORD_K = {"doubl": 2, "tenfold": 10, "hundredfold": 100, "thousandfold": 1000}
_PCT = re.compile(r"(?<![\w.])(?P<p>\d+(?:\.\d+)?)\s*%")
# resource words -> dimension; the longest alternatives first so "model size" wins over "model"
_RESOURCE = re.compile(r"\b(?P<w>model size|parameter count|parameters|params|model|data(?:set)?(?: size)?|training tokens|tokens|compute(?: budget)?|flops|budget|resource)\b", re.I)
_LOSS_DOWN = re.compile(r"loss|↓", re.I)
_DOWN = re.compile(r"reduc|lower|decreas|↓|drop|improv|fall|cut|trim", re.I)
_EXPONENT = re.compile(r"\^\s*\(?\s*-?\s*(?P<e>0\.\d+)")
_APPROX_WORD = re.compile(r"~|≈|about|approx|roughly|around|nearly", re.I)


def _dim(word: str) -> "str | None":
    w = word.lower()
    if w.startswith(("data", "token", "training tokens")):
        return "tokens"
    if w.startswith(("compute", "flops", "budget")):
        return "compute"
    if w.startswith(("model", "param")):
        return "params"
    return None


def _multipliers(s: str):
    """(start, end, k) of every multiplier in the sentence."""
    out = []
    for m in _MULT.finditer(s):
        if m.group("k"):
            out.append((m.start(), m.end(), float(m.group("k"))))
        else:
            w = m.group("word").lower()
            out.append((m.start(), m.end(), next(v for p, v in _WORD_K.items() if w.startswith(p))))
    return out


def _nearest_resource(s: str, a: int, b: int, window: int = 32):
    """The resource word nearest to s[a:b] (after it preferred, as in '10x parameters')."""
    best = None
    for m in _RESOURCE.finditer(s, max(0, a - window), min(len(s), b + window)):
        d = m.start() - b if m.start() >= b else (a - m.end()) + 3
        if d >= -1 and (best is None or d < best[0]):
            best = (d, _dim(m.group("w")), m)
    return best


class DerivedClaims:
    def _exponents(self, src, role):
        return [v for v in self.ix.by_source.get(src, []) if not v.foreign and v.kind in ("constant", "alternative")
                and role in v.roles]

    def derived(self, a, s, mentions, ctx, consume, header="", parent=""):
        """Loss change at k x one resource, and allocation growth at k x compute, in one sentence.
        `header` is the table column header of the sentence's cells (a factor may be written there)."""
        mults = _multipliers(s)
        pcts = list(_PCT.finditer(s))
        if not mults and not (pcts and header):
            return
        src = self._source_at(a, mentions, ctx)
        if pcts and _LOSS_DOWN.search(s) and (_DOWN.search(s) or "↓" in s):
            self._loss_change(a, s, mults, pcts, src, consume, header)
        elif len(mults) >= 2:
            self._growth(a, s, mults, src, consume)
        elif mults and parent:  # "at 1000x compute:" introducing "- params ~500x" items
            self._growth(a, s, mults, src, consume, given=_multipliers(parent)[:1] if _RESOURCE.search(parent) else [])

    def _loss_change(self, a, s, mults, pcts, src, consume, header):
        k, dim, at = None, None, (0, 0)
        for x0, x1, kk in mults:
            r = _nearest_resource(s, x0, x1)
            if r and r[1]:
                k, dim, at = kk, r[1], (x0, x1)
                break
        if k is None and header:
            hm = _multipliers(header)
            if hm:
                k = hm[0][2]
                row = s.split("|")
                first = row[1] if len(row) > 2 else s
                dim = ("params" if re.search(r"\(\s*N\s*\)|param|model", first) else "tokens" if re.search(r"\(\s*D\s*\)|data|token", first)
                       else "compute" if re.search(r"\(\s*C", first) else None)
        if k is None or dim is None or dim == "resource":
            return
        p = pcts[0]
        claimed = Decimal(p.group("p"))
        printed_e = _EXPONENT.search(s)
        if printed_e:
            cands = [(float(printed_e.group("e")), "the exponent written here", "", "")]
        elif src:
            cands = [(v.f, f"{v.symbol} = {v.printed}", v.law, v.location) for v in self._exponents(src, ("exp", "loss", dim))]
        else:
            return
        if not cands:
            return
        consume(at[0], at[1])
        consume(p.start(), p.end())
        tol_abs = max(_ulp(claimed), 0.0)

        def expected(e):
            return 100.0 * (1.0 - k ** -e)

        label = f"loss reduction at {k:g}x {dim}"
        for e, what, law, loc in cands:
            x = expected(e)
            if abs(float(claimed) - x) <= max(tol_abs, x / 10):
                self.add(a + p.start(), a + p.end(), "ok", law, f"{x:.3g}%", loc, f"{label} {claimed}% matches 1 - {k:g}^-e = {x:.3g}% ({what})")
                return
        e, what, law, loc = cands[0]
        self.add(a + p.start(), a + p.end(), "wrong", law, f"{expected(e):.3g}%", loc,
                 f"{label} = {claimed}% contradicts 1 - {k:g}^-e = {expected(e):.3g}% ({what})")

    def _growth(self, a, s, mults, src, consume, given=()):
        """'k x compute -> a x model, b x data': the input multiplier is the one tied to compute
        (or, for a list item, the one its introducing line names)."""
        tied = []
        for x0, x1, kk in mults:
            r = _nearest_resource(s, x0, x1)
            tied.append((x0, x1, kk, r[1] if r else None))
        inputs = [t for t in tied if t[3] == "compute"] or [(-1, -1, k, "compute") for _, _, k in given]
        if not inputs or not src:
            return
        k = inputs[0][2]
        for x0, x1, kk, dim in tied:
            if dim not in ("params", "tokens") or (x0, x1) == inputs[0][:2]:
                continue
            cands = self._exponents(src, ("exp", dim, "compute"))
            if not cands:
                continue
            consume(x0, x1)
            claimed = Decimal(str(kk))
            label = f"{'model' if dim == 'params' else 'data'} growth at {k:g}x compute"
            for v in cands:
                x = k ** v.f
                if abs(kk - x) <= max(_ulp(claimed), x / 10):
                    self.add(a + x0, a + x1, "ok", v.law, _fmt(x), v.location, f"{label} {kk:g}x matches {k:g}^{v.printed} = {_fmt(x)}")
                    break
            else:
                v = self._primary(cands)
                self.add(a + x0, a + x1, "wrong", v.law, _fmt(k ** v.f), v.location,
                         f"{label} = {kk:g}x contradicts {k:g}^{v.printed} = {_fmt(k ** v.f)} ({v.symbol}, {self._cite(src)})")
