"""Claims: the driver that walks paragraphs and sentences, finds numbers and the quantity and paper
each belongs to, and hands them to the judge and the shape-specific checks."""

import re
from decimal import Decimal

from .allocation import AllocationClaims
from .arith import ArithClaims
from .citations import CitationClaims
from .derived import DerivedClaims
from .document import _HEADING, _LIST_ITEM, _Doc, _paragraphs, _sentences
from .formulas import FormulaClaims
from .judge import Judge, _fmt
from .knowledge import _hint_key, _index, _symbol_roles, _unit_dim
from .report import Finding
from .modelfacts import ModelFactClaims
from .rules import RuleClaims
from .tokens import _NUMBER_TOKEN, _numbers
from .vocab import _ALLOC, _APPROX, _ARXIV, _DOUBLE, _EXCLUDE, _FIRST_PERSON, _FORMULA, _HINT, _QUANT, _RANGE, _SHARE, _SYM, _TPP, _canon_symbol




_DIGIT = re.compile(r"\d")


class _Linter(Judge, RuleClaims, FormulaClaims, CitationClaims, DerivedClaims, ArithClaims, AllocationClaims, ModelFactClaims):
    def __init__(self, doc: _Doc, verbose: bool):
        self.doc, self.verbose, self.ix = doc, verbose, _index()
        self.out: "list[Finding]" = []

    # -------------------------------------------------------------- output
    def add(self, start, end, verdict, law="", paper="", location="", message=""):
        line, col = self.doc.pos(start)
        self.out.append(Finding(self.doc.name, line, col, verdict, self.doc.snippet(start, end), law, paper,
                                location, message))

    # -------------------------------------------------------------- driver
    def run(self):
        text = self.doc.norm
        heading_ctx: "list[str]" = []
        doc_ctx = self._topic()
        carried: "list[str]" = []
        for p0, p1 in _paragraphs(text):
            ptext = text[p0:p1]
            is_heading = bool(_HEADING.match(ptext))
            para_ctx: "list[str]" = []
            if is_heading:
                heading_ctx = [k for _, k in self._mentions(p0, p1)] or heading_ctx
                carried = []
            elif _LIST_ITEM.match(text, p0):
                para_ctx = carried  # a list inherits the paper of the paragraph that introduces it
            for a, b in _sentences(text, p0, p1):
                mentions = self._mentions(a, b)
                if mentions:
                    para_ctx = [k for _, k in mentions]
                    ctx = []
                elif _FIRST_PERSON.search(text, a, b):
                    ctx = []
                else:
                    ctx = para_ctx or heading_ctx or doc_ctx
                if mentions or _DIGIT.search(text, a, b):  # a sentence without a number or a paper has no claim
                    self.sentence(a, b, mentions, ctx)
            carried = para_ctx or carried  # the last paper named in this section
            if "C" in ptext:
                self.allocation_formulas(p0, p1, self._mentions(p0, p1), para_ctx or heading_ctx or doc_ctx)
        self.code_blocks(doc_ctx)

    def _topic(self) -> "list[str]":
        """The document's subject paper: named in its first heading or front matter, linked by arXiv
        id near the top, or else the paper that most of its mentions name (at least 60%)."""
        text = self.doc.norm
        top = text[:3000]
        first = _paragraphs(top)
        for p0, p1 in first:
            if _HEADING.match(text, p0) or text.startswith("---", p0) or text.startswith("+++", p0):
                found = [k for _, k in self._mentions(p0, p1)]
                if found:
                    return found[:1]
            break
        eprints = {b.get("eprint"): k for k, b in self.ix.bib.items() if b.get("eprint")}
        for m in _ARXIV.finditer(top):
            if m.group("id") in eprints:
                return [eprints[m.group("id")]]
        counts: "dict[str, int]" = {}
        for _, k in self._mentions(0, len(text)):
            counts[k] = counts.get(k, 0) + 1
        if counts:
            k, n = max(counts.items(), key=lambda kv: kv[1])
            if n >= 0.6 * sum(counts.values()):
                return [k]
        return []

    def _mentions(self, a, b) -> "list[tuple[int, str]]":
        names = self.ix.name_map
        return [(m.start(), names[m.group(0)]) for m in self.ix.name_re.finditer(self.doc.norm, a, b)]

    def _source_at(self, pos, mentions, ctx, a=None) -> "str | None":
        before = [(p, k) for p, k in mentions if p <= pos]
        if before:
            # the nearest mention before the claim, unless a contrast word separates them
            p, k = before[-1]
            return k
        after = [(p, k) for p, k in mentions if p > pos]
        if after:
            return after[0][1]
        return ctx[0] if ctx else None

    def _sources_at(self, pos, mentions, ctx) -> "list[str]":
        first = self._source_at(pos, mentions, ctx)
        rest = [k for _, k in mentions if k != first]
        return ([first] if first else []) + list(dict.fromkeys(rest))

    def _hints(self, a, pos, source) -> "set[str]":
        text = self.doc.norm[a:pos]
        found = list(_HINT.finditer(text))
        if not found or not source:
            return set()
        m = found[-1]
        key = f"approach {m.group('ap')}" if m.group("ap") else _hint_key(m.group(0))
        return set(self.ix.hints.get(source, {}).get(key.lower() if key.startswith("Approach") else key, set()))

    # -------------------------------------------------------------- one sentence
    def sentence(self, a, b, mentions, ctx):
        text = self.doc.norm
        s = text[a:b]
        if not _NUMBER_TOKEN.search(s) and not mentions:
            return
        nums = _numbers(s)
        used: "set[int]" = set()  # starts (relative) of numbers consumed

        def consume(x0, x1):
            for n in nums:
                if x0 <= n.start < x1:
                    used.add(n.start)

        # exclusions: section/table/equation references, years in citations, arXiv ids
        for n in nums:
            if _EXCLUDE.search(s[max(0, n.start - 12):n.start]):
                used.add(n.start)
        self.arithmetic(a, s, consume)
        self.model_facts(a, s, consume)
        for m in _ARXIV.finditer(s):
            consume(m.start(), m.end())
            self.arxiv(a, m, mentions, ctx)
        self.citations(a, s, nums, mentions, used)
        self.titles(a, b, mentions, ctx)
        for m in _FORMULA.finditer(s):
            if self.formula(a, m, mentions, ctx):
                consume(m.start(), m.end())
        for m in _DOUBLE.finditer(s):
            self.doubling(a, m, mentions, ctx)
            consume(m.start(), m.end())
        for m in _SHARE.finditer(s):
            src = self._source_at(a + m.start(), mentions, ctx)
            if src:
                role = ("exp", "params" if _unit_dim(m.group("what")) == "params" and "data" not in m.group("what").lower()
                        else "tokens", "compute")
                if re.search(r"data|token", m.group("what"), re.I):
                    role = ("exp", "tokens", "compute")
                v = Decimal(m.group("num")).scaleb(-2)
                self.judge(a + m.start(), a + m.end(), src, v, "", role, self._hints(a, a + m.start(), src),
                           self._sources_at(a + m.start(), mentions, ctx), what="share of compute growth")
                consume(m.start(), m.end())
        for m in _TPP.finditer(s):
            self.tokens_per_param(a, b, m, mentions, ctx)
            consume(m.start(), m.end())
        for m in _RANGE.finditer(s):
            if self.fitted_range(a, m, mentions, ctx):
                consume(m.start(), m.end())
        self.compute_rule(a, s, mentions, ctx, consume)
        self.embedding(a, s, mentions)
        for m in _ALLOC.finditer(s):
            n_at = m.start("num")
            if n_at in used:
                continue
            lhs = m.group("lhs").lower()
            out = "tokens" if re.match(r"d|data|training tokens|tokens|optimal data|optimal number of tokens|optimal token", lhs) else "params"
            var = "params" if m.group("var") == "N" else "compute"
            if var == "params" and out == "params":
                continue
            src = self._source_at(a + m.start(), mentions, ctx)
            num = next((x for x in nums if x.start == n_at or (x.start > n_at - 2 and x.start <= n_at)), None)
            if src and num is not None:
                self.judge(a + m.start(), a + m.end(), src, num.value, "", ("exp", out, var),
                           self._hints(a, a + m.start(), src), self._sources_at(a + m.start(), mentions, ctx),
                           what="D ∝ N^x" if var == "params" else f"{'N' if out == 'params' else 'D'}_opt ∝ C^x",
                           text=s)
                used.add(num.start)
        self.derived(a, s, mentions, ctx, consume, self.doc.table_header(a), self.doc.list_parent(a))
        self.pairs(a, b, mentions, ctx)
        # constants named by a symbol or a phrase
        quants = []
        for m in _SYM.finditer(s):
            quants.append((m.start(), m.end(), _canon_symbol(m.group("sym")), None))
        for rx, sym, role in _QUANT:
            for m in rx.finditer(s):
                quants.append((m.start(), m.end(), sym, role))
        quants.sort()
        for n in nums:
            if n.start in used:
                continue
            q = self._nearest_quantity(s, quants, nums, n)
            src = None
            if q is not None:
                src = self._source_at(a + q[0], mentions, ctx)
            if q is None or src is None:
                if self.verbose and not self._boring(s, n):
                    self.add(a + n.start, a + n.end, "unattributed", message=f"{_fmt(n.f)}: no paper and quantity to check it against")
                continue
            sym, role = q[2], q[3]
            if not role and sym:
                r = _symbol_roles(sym)
                role = next(iter(r)) if r else None
            self.judge(a + min(q[0], n.start), a + max(q[1], n.end), src, n.value, sym, role,
                       self._hints(a, a + n.start, src), self._sources_at(a + q[0], mentions, ctx))
            used.add(n.start)

    @staticmethod
    def _boring(s, n) -> bool:
        v = n.f
        return (1900 <= v <= 2100 and float(v).is_integer()) or (v.is_integer() and 0 <= v <= 10 and not n.percent
                                                                   and n.value.as_tuple().exponent >= 0)

    @staticmethod
    def _nearest_quantity(s, quants, nums, n):
        best = None
        for q in quants:
            if q[1] <= n.start:
                gap = s[q[1]:n.start]
                if len(gap) > 45 or any(q[1] <= m.start < n.start for m in nums) or re.search(r"[.;]\s|\band\b", gap):
                    continue
                if not re.fullmatch(rf"{_APPROX}(?:\s*(?:is|was|of|at|fitted|estimated|reported|found|to be|as|the|value|a|an|roughly)\s*)*{_APPROX}", gap):
                    continue
                d = n.start - q[1]
            elif q[0] >= n.end:
                gap = s[n.end:q[0]]
                if len(gap) > 20 or not re.fullmatch(r"\s*(?:for|as|is)(?: the)?\s*", gap):
                    continue
                d = q[0] - n.end + 5
            else:
                continue
            if best is None or d < best[0]:
                best = (d, q)
        return best[1] if best else None
