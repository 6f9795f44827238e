"""Judging: printed precision for transcribed values, relative tolerance for derived ones, and the
verdict of one attributed claim against the catalog."""

import re
from decimal import Decimal, InvalidOperation

from .knowledge import _Value
from .vocab import _label

def _ulp(d: Decimal) -> float:
    return 0.5 * 10.0 ** d.as_tuple().exponent


def _close(claim: Decimal, printed, extra: float = 0.0) -> bool:
    """Equal within half a unit of the last digit of the coarser of the two numbers."""
    try:
        p = printed if isinstance(printed, Decimal) else Decimal(str(printed))
    except InvalidOperation:
        return False
    if isinstance(printed, float):
        tol = _ulp(claim)
    else:
        tol = max(_ulp(claim), _ulp(p))
    return abs(float(claim) - float(p)) <= tol * (1 + 1e-9) + extra + 1e-12 * abs(float(p))


def _same_digits(claim: Decimal, printed: str) -> bool:
    """The claim reproduces a printed number digit for digit (at least two significant digits):
    the evidence needed to say a number was taken from another paper."""
    p = Decimal(printed)
    return (claim == p and len(claim.normalize().as_tuple().digits) >= 2
            and claim.as_tuple().exponent <= p.as_tuple().exponent)


def _fmt(x: float) -> str:
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3g}"


# ============================================================================ the catalog, seen by the linter



class Judge:
    # -------------------------------------------------------------- judging constants
    def judge(self, start, end, src, value: Decimal, sym, role, hints, sources, what="", text=""):
        ix = self.ix
        own = [v for v in ix.by_source.get(src, []) if not v.foreign]

        def fits(v):
            return (sym and v.symbol == sym and (not role or not v.roles or role in v.roles)) or (role and role in v.roles)

        cands = [v for v in own if fits(v)]
        if sym and not any(v.symbol == sym for v in own) and role:
            cands = [v for v in own if role in v.roles]
        if hints:
            hinted = [v for v in cands if v.law in hints]
            if hinted:
                cands = hinted
        label = what or _label(sym, role)
        src_name = self._cite(src)

        def ok_match(v):
            return _close(value, v.printed, v.tol) if v.kind != "derived" else _close(value, v.f)

        cross = {(w.law, w.printed) for w in own if w.kind == "constant"}

        def alt_is_crossref(v):
            return v.kind == "alternative" and any(_close(Decimal(v.printed), w.printed) and law != v.law
                                                   for law, w_printed in cross for w in [_Value(src, law, "", w_printed, "", frozenset())])

        good = [v for v in cands if ok_match(v) and not alt_is_crossref(v)]
        if good:
            v = sorted(good, key=lambda v: ("constant", "check", "alternative", "derived").index(v.kind))[0]
            if what.startswith("D ∝ N") and re.search(r"compute[- ]optimal|optimal", text, re.I):
                alloc = [w for w in own if ("exp", "tokens", "compute") in w.roles and w.kind == "constant"]
                better = f"; the compute-optimal data trend is {alloc[0].law} ({alloc[0].symbol} = {alloc[0].printed})" if alloc else ""
                self.add(start, end, "misattributed", v.law, v.printed, v.location,
                         f"{_fmt(float(value))} is the exponent of {v.law} ({ix.catalog.laws[v.law].title}), not a compute-optimal trend{better}")
                return
            note = f" ({v.kind}: {v.note})" if v.kind != "constant" and v.note else (f" ({v.kind})" if v.kind != "constant" else "")
            self.add(start, end, "ok", v.law, v.printed, v.location,
                     f"{label} = {_fmt(float(value))} matches {v.law} {v.symbol} = {_fmt(v.f) if v.kind == 'derived' else v.printed}{note}")
            return
        # the number exists elsewhere in the same paper: another law, another quantity
        same_src = [v for v in ix.by_source.get(src, []) if _close(value, v.printed if v.kind != "derived" else v.f, v.tol)
                    and v.kind in ("constant", "check", "alternative", "derived")]
        same_src.sort(key=lambda v: (v.foreign != "", v.symbol != sym, v.kind != "constant"))
        if same_src:
            v = same_src[0]
            if v.foreign:
                msg = (f"{_fmt(float(value))} is {self._cite(v.foreign)}'s value as quoted by {src_name} "
                       f"({v.law} {v.symbol}), not {src_name}'s own {label}")
            elif cands and v.law != self._primary(cands).law and v.symbol == self._primary(cands).symbol:
                c0 = self._primary(cands)
                msg = (f"{_fmt(float(value))} is {v.symbol} of {v.law} ({ix.catalog.laws[v.law].title}); "
                       f"{c0.law} uses {c0.symbol} = {c0.printed} ({c0.location}): constant sets mixed")
            else:
                msg = f"{_fmt(float(value))} is {v.symbol} of {v.law} ({', '.join(_label('', r) for r in v.roles) or 'another quantity'}), not the {label}"
                if cands:
                    msg += f"; {label} is {self._primary(cands).symbol} = {self._primary(cands).printed}"
            if cands or v.foreign or sym or role:
                self.add(start, end, "misattributed", v.law, v.printed, v.location, msg)
                return
        if not cands:
            # the same quantity in another mentioned or any stored paper
            for other in [k for k in sources if k != src] + [k for k in ix.by_source if k not in sources]:
                hit = [v for v in ix.by_source.get(other, []) if not v.foreign and v.kind == "constant" and fits(v)
                       and _close(value, v.printed)]
                if hit and other in sources:
                    self.add(start, end, "ok", hit[0].law, hit[0].printed, hit[0].location,
                             f"{label} = {_fmt(float(value))} matches {hit[0].law} {hit[0].symbol}")
                    return
                if hit and _same_digits(value, hit[0].printed) and (sym in ("E", "alpha_N", "alpha_D", "N_c", "D_c") or role):
                    self.add(start, end, "misattributed", hit[0].law, hit[0].printed, hit[0].location,
                             f"{src_name} prints no {label}; {_fmt(float(value))} is {self._cite(other)}'s {hit[0].symbol} ({hit[0].law})")
                    return
            self.add(start, end, "unverifiable", src, "", "",
                     f"{src_name} prints no {label} in the knowledge base")
            return
        # another mentioned paper prints it for this quantity: the claim is about that one
        for other in sources:
            if other == src:
                continue
            hit = [v for v in ix.by_source.get(other, []) if fits(v) and _close(value, v.printed)]
            if hit:
                self.add(start, end, "ok", hit[0].law, hit[0].printed, hit[0].location,
                         f"{label} = {_fmt(float(value))} matches {hit[0].law} {hit[0].symbol}")
                return
        for other in ix.by_source:
            if other == src:
                continue
            hit = [v for v in ix.by_source[other] if not v.foreign and v.kind == "constant" and fits(v)
                   and _same_digits(value, v.printed)]
            if hit:
                self.add(start, end, "misattributed", hit[0].law, hit[0].printed, hit[0].location,
                         f"{_fmt(float(value))} is {self._cite(other)}'s {hit[0].symbol} ({hit[0].law}), not {src_name}'s; "
                         f"{src_name}: {cands[0].symbol} = {cands[0].printed}")
                return
        v = self._primary(cands)
        shown = ", ".join(dict.fromkeys(f"{w.symbol} = {w.printed if w.kind != 'derived' else _fmt(w.f)} ({w.law})" for w in cands if w.kind in ("constant", "check")))
        self.add(start, end, "wrong", v.law, v.printed if v.kind != "derived" else _fmt(v.f), v.location,
                 f"{label} = {_fmt(float(value))} contradicts {src_name}: {shown or v.symbol + ' = ' + v.printed}")

    def _primary(self, cands):
        cat = self.ix.catalog
        heads = set()
        for c in cands:
            s = cat.sources[c.source]
            heads |= {s.headline_loss, *s.headline_allocation.values()}
        return sorted(cands, key=lambda v: (("constant", "check", "derived", "alternative").index(v.kind), v.law not in heads))[0]

    def _cite(self, key) -> str:
        s = self.ix.catalog.sources.get(key)
        if s is None:
            return key
        who = s.authors[0].split()[-1] if s.authors else s.short
        return f"{who} et al. {s.year}" if len(s.authors) > 2 else f"{s.short} {s.year}"
