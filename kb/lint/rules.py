"""Derived statements and rules: per-doubling loss change, tokens per parameter, fitted ranges,
C = k N D, embedding counting."""

import re
from decimal import Decimal

from .judge import _close, _fmt
from .knowledge import _unit_dim
from .tokens import _numbers
from .vocab import _CONTRAST, _COUNT_VERB, _EMBED




_COMPARED = re.compile(r"\b(?:half|twice|below|above|of optimal|than optimal|over-?train\w*|under-?train\w*)\b", re.I)


class RuleClaims:
    # -------------------------------------------------------------- derived statements
    def doubling(self, a, m, mentions, ctx):
        what = (m.group("w1") or m.group("w2") or m.group("w3") or "").lower()
        dim = ("tokens" if re.match(r"data|tokens|training tokens|d$", what) else
               "compute" if re.match(r"compute|c$", what) else "params")
        factor = m.group("num3") is not None
        raw = m.group("num") or m.group("num2") or m.group("num3")
        value = Decimal(raw) if factor else Decimal(raw).scaleb(-2)
        src = self._source_at(a + m.start(), mentions, ctx)
        if not src:
            if self.verbose:
                self.add(a + m.start(), a + m.end(), "unattributed", message="loss change per doubling with no paper named")
            return
        hints = self._hints(a, a + m.start(), src)
        own = [v for v in self.ix.by_source.get(src, []) if not v.foreign and v.kind in ("constant", "alternative")]

        def derived(v):
            x = 2 ** -v.f
            return x if factor else 1 - x

        def exps(d):
            c = [v for v in own if ("exp", "loss", d) in v.roles]
            h = [v for v in c if v.law in hints]
            return h or c

        label = f"loss {'factor' if factor else 'reduction'} per doubling of {dim}"
        cands = exps(dim)
        if not cands:
            self.add(a + m.start(), a + m.end(), "unverifiable", src, "", "", f"{self._cite(src)} prints no loss exponent for {dim}")
            return
        for v in cands:
            if _close(value, derived(v), 1e-4):
                self.add(a + m.start(), a + m.end(), "ok", v.law, f"{_fmt(derived(v))}", v.location,
                         f"{label} {_fmt(float(value))} matches {'2^-' if factor else '1 - 2^-'}{v.symbol} = {_fmt(derived(v))} ({v.symbol} = {v.printed})")
                return
        for d in ("params", "tokens", "compute"):
            if d == dim:
                continue
            for v in exps(d):
                if _close(value, derived(v), 1e-4):
                    self.add(a + m.start(), a + m.end(), "misattributed", v.law, _fmt(derived(v)), v.location,
                             f"{_fmt(float(value))} is the per-doubling change for {d} ({v.symbol} = {v.printed}), not {dim}; "
                             f"for {dim}: {_fmt(derived(cands[0]))}")
                    return
        v = self._primary(cands)
        self.add(a + m.start(), a + m.end(), "wrong", v.law, _fmt(derived(v)), v.location,
                 f"{label} = {_fmt(float(value))} contradicts {'2^-' if factor else '1 - 2^-'}{v.symbol} = {_fmt(derived(v))} ({v.symbol} = {v.printed})")

    def tokens_per_param(self, a, b, m, mentions, ctx):
        raw = m.group("num") or m.group("num2")
        nums = _numbers(raw)
        if not nums:
            return
        value = nums[0].value
        start, end = a + m.start(), a + m.end()
        src = self._source_at(start, mentions, ctx)
        if not src:
            if self.verbose:
                self.add(start, end, "unattributed", message=f"{_fmt(float(value))} tokens per parameter with no paper named")
            return
        s = self.doc.norm[a:b]
        thumbs = self.ix.rule_of_thumb.get(src, [])
        # a paper's own rule of thumb attributed to it is correct, whatever its law gives at some budget
        for t, note in thumbs:
            if _close(value, t):
                self.add(start, end, "ok", src, str(t), "notes", f"{_fmt(float(value))} tokens per parameter: the rule of thumb ({note})")
                return
        if _COMPARED.search(s):
            return  # the ratio of one run set against the optimum ("half of optimal"), not a claim of the optimum
        # the law's own optimum at the budgets the paper checks (or a budget named in the sentence)
        opt = self._optimal_ratio(src, s)
        if opt is None:
            if thumbs and any(_close(value, t) for t, _ in thumbs):
                self.add(start, end, "misattributed", src, str(thumbs[0][0]), "notes",
                         f"{_fmt(float(value))} tokens per parameter is a rule of thumb, not a law: {thumbs[0][1]}")
                return
            self.add(start, end, "unverifiable", src, "", "", f"{self._cite(src)} gives no tokens-per-parameter optimum in the knowledge base")
            return
        ratio, budget, law, where = opt
        if _close(value, ratio, 0.05 * ratio):
            self.add(start, end, "ok", law.id, _fmt(ratio), where,
                     f"D/N = {_fmt(float(value))} matches {law.id} at {budget:.3g} FLOPs ({_fmt(ratio)})")
            return
        thumb = next((t for t, _ in thumbs if _close(value, t)), None)
        if thumb is not None:
            self.add(start, end, "misattributed", law.id, _fmt(ratio), where,
                     f"{_fmt(float(value))} tokens per parameter is a rule of thumb (Approaches 1-2, the trained model), "
                     f"not the law: {law.id} gives D/N ≈ {ratio:.0f} at {budget:.3g} FLOPs")
            return
        self.add(start, end, "wrong", law.id, _fmt(ratio), where,
                 f"D/N = {_fmt(float(value))} contradicts {law.id}: D/N ≈ {ratio:.0f} at {budget:.3g} FLOPs")

    def _optimal_ratio(self, src, sentence):
        cat = self.ix.catalog
        head = cat.sources[src].headline_loss
        if not head:
            return None
        law = cat.laws[head]
        budgets = []
        for chk in sorted(law.checks, key=lambda c: not re.fullmatch(r"N_opt\([\d.eE+-]+\)", c.expr.strip())):
            budgets += [float(x) for x in re.findall(r"N_opt\(([\d.eE+-]+)\)", chk.expr)]
        flop = [n for n in _numbers(sentence) if re.match(r"\s*FLOPs?", sentence[n.end:n.end + 7]) and n.f > 1e15]
        if flop:
            budgets = [flop[0].f]
        if not budgets:
            return None
        from .. import calc

        try:
            n, d, _ = calc.native_optimum(law, [budgets[0]])
        except Exception:
            return None
        loc = next((c.location for c in law.checks if f"N_opt({budgets[0]:g})" in c.expr.replace(" ", "")
                    or re.search(r"N_opt\(", c.expr) and abs(float(re.findall(r"N_opt\(([\d.eE+-]+)\)", c.expr)[0]) - budgets[0]) < 1e-6 * budgets[0]),
                   law.location) if not flop else "budget named in the text"
        return float(d[0] / n[0]), budgets[0], law, f"{law.location}; budget from {loc}"

    def fitted_range(self, a, m, mentions, ctx) -> bool:
        src = self._source_at(a + m.start(), mentions, ctx)
        if not src:
            return False
        lo, hi = _numbers(m.group("a")), _numbers(m.group("b"))
        if not lo or not hi:
            return False
        lo, hi = lo[0].value, hi[0].value
        dim = _unit_dim(m.group("unit"))
        ranges = self.ix.ranges.get(src, [])
        mine = [r for r in ranges if r[0] == dim]
        for r in mine:
            if _close(lo, r[1]) and _close(hi, r[2]):
                self.add(a + m.start(), a + m.end(), "ok", r[3], f"{_fmt(r[1])} to {_fmt(r[2])}", r[4],
                         f"range {_fmt(float(lo))} to {_fmt(float(hi))} {dim} matches {r[3]}")
                return True
        for r in ranges:
            if r[0] != dim and _close(lo, r[1]) and _close(hi, r[2]):
                self.add(a + m.start(), a + m.end(), "misattributed", r[3], f"{_fmt(r[1])} to {_fmt(r[2])} {r[0]}", r[4],
                         f"{_fmt(float(lo))} to {_fmt(float(hi))} is {self._cite(src)}'s range of {r[0]}, not {dim}")
                return True
        if not mine:
            return False
        r = next((r for r in mine if r[3] == self.ix.catalog.sources[src].headline_loss), mine[0])
        self.add(a + m.start(), a + m.end(), "wrong", r[3], f"{_fmt(r[1])} to {_fmt(r[2])} {dim}", r[4],
                 f"fitted range {_fmt(float(lo))} to {_fmt(float(hi))} {dim} contradicts {self._cite(src)}: {_fmt(r[1])} to {_fmt(r[2])}")
        return True

    def compute_rule(self, a, s, mentions, ctx, consume):
        law, k = self.ix.flops, self.ix.flops_factor
        if law is None:
            return
        ks = re.escape(f"{k:g}")
        per_token = re.compile(r"per (?:training )?token|per token|each token|/token", re.I)
        for m in re.finditer(rf"(?<![\w.])(?P<k>{ks})\s*[·×*]?\s*N(?P<d>\s*[·×*]?\s*D)?(?![\w])", s):
            tail = s[m.end():m.end() + 40]
            head = s[max(0, m.start() - 60):m.start()]
            per = bool(per_token.search(tail)) or bool(per_token.search(head))
            total = re.search(r"(?:C|compute|FLOPs?|cost)\s*(?:=|≈|~|is|of)\s*$", head) or re.search(r"total|training compute", head, re.I)
            consume(m.start(), m.end())
            src = self._source_at(a + m.start(), mentions, ctx) or law.source
            if m.group("d"):
                if per:
                    self.add(a + m.start(), a + m.end(), "wrong", law.id, law.formula, law.location,
                             f"{k:g}ND is the total training compute; per training token it is {k:g}N")
                else:
                    self.add(a + m.start(), a + m.end(), "ok", law.id, law.formula, law.location,
                             f"C ≈ {k:g}ND total training compute ({self._cite(src)})")
            else:
                if per:
                    self.add(a + m.start(), a + m.end(), "ok", law.id, law.formula, law.location,
                             f"{k:g}N FLOPs per training token")
                elif total:
                    self.add(a + m.start(), a + m.end(), "wrong", law.id, law.formula, law.location,
                             f"{k:g}N is FLOPs per training token; total training compute is C ≈ {k:g}ND")

    def embedding(self, a, s, mentions):
        for m in _EMBED.finditer(s):
            before = [(p, k) for p, k in mentions if p <= a + m.start() and a + m.start() - p < 90]
            if not before:
                continue
            p, src = before[-1]
            between = self.doc.norm[p:a + m.start()]
            if _CONTRAST.search(between) or not _COUNT_VERB.search(between + m.group(0)):
                continue
            laws = self.ix.catalog.laws_of(src)
            counts = next((law.condition.get("N_counts") for law in laws if law.condition.get("N_counts")), None)
            if not counts:
                continue
            paper_neg = counts.lower().startswith("non-embedding")
            paper_tot = counts.lower().startswith("total")
            if not (paper_neg or paper_tot):
                continue
            claim_neg = m.group("neg") is not None
            law = next((law for law in laws if law.condition.get("N_counts")), None)
            if claim_neg == paper_neg:
                self.add(a + m.start(), a + m.end(), "ok", src, counts, "source conditions", f"{self._cite(src)} counts {counts}")
            else:
                self.add(a + m.start(), a + m.end(), "wrong", law.id if law else src, counts, "source conditions (N_counts)",
                         f"{self._cite(src)} counts N as {counts}, not {'non-embedding' if claim_neg else 'total'}")
