"""Formula claims: a stated law compared with the stored one by evaluation at probe points."""

import math
import re
from decimal import Decimal

from .judge import _fmt, _ulp
from .knowledge import _dimension
from .tokens import _numbers
from .vocab import _NUMX




class FormulaClaims:
    # -------------------------------------------------------------- formulas
    def formula(self, a, m, mentions, ctx) -> bool:
        rhs = m.group("rhs").strip().rstrip(".")
        src = self._source_at(a + m.start(), mentions, ctx)
        if not src:
            return False
        toks = re.findall(rf"{_NUMX}|[A-Za-zα-ω∞_]+(?:_\w+)?|\*\*|[-+*/^()×·]|\S", rhs)
        idents = [t for t in toks if re.match(r"[A-Za-zα-ω∞]", t) and not re.match(r"\d", t)]
        idents = [t for t in idents if not re.fullmatch(r"(?:[eE])", t)]
        variables = {t for t in idents if t in ("N", "D", "C", "C_min")}
        has_num = bool(_numbers(rhs))
        if not variables:
            return False
        lhs = m.group("lhs")
        is_loss = lhs.lower() in ("l", "loss")
        laws = [law for law in self.ix.catalog.laws_of(src) if law.formula and not law.missing_constants
                and ((law.kind == "loss") if is_loss else law.predicts.symbol[:1] == lhs[:1])
                and {v.symbol for v in law.variables} == {("C_min" if x == "C" and any(w.symbol == "C_min" for w in law.variables) else x) for x in variables}]
        hints = self._hints(a, a + m.end(), src)
        if hints:
            laws = [law for law in laws if law.id in hints] or laws
        start, end = a + m.start(), a + m.end()
        others = set(idents) - variables - {"log", "exp"}
        if not has_num or others:
            # a symbolic form: check only for an added constant the paper does not have
            adds = re.search(r"(?:^|\+)\s*(?:E|L_?∞|L_?inf|L_?0|c|const)\s*(?:\+|$)", rhs)
            if adds and laws and not any(("irreducible",) in r for law in laws for r in self._law_roles(law)):
                law = laws[0]
                self.add(start, end, "wrong", law.id, law.formula, law.location,
                         f"{law.id} has no added constant: {law.formula}")
                return True
            return False
        expr = self._python(toks, variables)
        if expr is None:
            return False
        return self._check_formula(start, end, src, expr, laws, variables, rhs)

    def _law_roles(self, law):
        return [v.roles for v in self.ix.by_source.get(law.source, []) if v.law == law.id]

    @staticmethod
    def _python(toks, variables):
        out, prev = [], None
        for t in toks:
            kind = "num" if re.match(r"[\d.]", t) and _numbers(t) else "id" if t in variables or t in ("log", "exp") else t
            if kind == "num":
                n = _numbers(t)[0]
                t = repr(float(n.value))
            elif t in ("^",):
                t = "**"
            elif t in ("×", "·"):
                t = "*"
            elif kind not in ("id",) and t not in ("+", "-", "*", "/", "**", "(", ")"):
                return None
            if prev in ("num", "id", ")") and (kind in ("num", "id") or t == "("):
                if not (prev == "id" and t == "(" and out[-1] in ("log", "exp")):
                    out.append("*")
            out.append(t)
            prev = "num" if kind == "num" else "id" if kind == "id" else t
        return " ".join(out)

    def _check_formula(self, start, end, src, expr, laws, variables, rhs) -> bool:
        import numpy as np

        from .. import calc
        from .. import formula as formula_lang

        try:
            claim = formula_lang.parse(expr, variables)
        except Exception:
            return False
        toks = re.findall(rf"{_NUMX}|[A-Za-zα-ω∞_]+(?:_\w+)?|\*\*|[-+*/^()×·]|\S", rhs)
        literals = [_numbers(t)[0].value for t in toks if re.match(r"[\d.]", t) and _numbers(t)]

        def points(law):
            pts = []
            for v in law.variables:
                lo, hi = v.fitted or {"params": (1e8, 1e10), "tokens": (1e10, 1e12), "compute": (1e-3, 1e3)}.get(_dimension(v.unit), (1, 10))
                pts.append((v.symbol, np.geomspace(max(lo, 1e-30), hi, 4)))
            grids = np.meshgrid(*[p[1] for p in pts])
            return {sym: g.ravel() for (sym, _), g in zip(pts, grids)}

        def claim_env(env):
            return {("C" if k == "C_min" else k): val for k, val in env.items()}

        def tolerance(env):
            base = np.asarray(claim(claim_env(env)), dtype=float)
            tol = np.zeros_like(base)
            for i, lit in enumerate(literals):
                bumped = self._bump(rhs, i, lit, variables)
                if bumped is None:
                    continue
                try:
                    f = formula_lang.parse(bumped, variables)
                    tol += np.abs(np.asarray(f(claim_env(env)), dtype=float) - base)
                except Exception:
                    continue
            return base, tol + 1e-3 * np.abs(base)

        def matches(law):
            try:
                env = points(law)
                ref = np.asarray(calc.native_eval(law, env)[0], dtype=float)
                got, tol = tolerance(env)
            except Exception:
                return False, None
            return bool(np.all(np.abs(got - ref) <= tol)), (got, ref)

        for law in laws:
            ok, _ = matches(law)
            if ok:
                self.add(start, end, "ok", law.id, law.formula, law.location,
                         f"formula agrees with {law.id} at the fitted points ({self._consts(law)})")
                return True
        for law in self.ix.catalog.laws.values():
            if law.source == src or law.kind != "loss" or not law.formula or law.missing_constants:
                continue
            if {v.symbol for v in law.variables} != {("C_min" if x == "C" and any(w.symbol == "C_min" for w in law.variables) else x) for x in variables}:
                continue
            ok, _ = matches(law)
            if ok:
                self.add(start, end, "misattributed", law.id, law.formula, law.location,
                         f"the formula is {law.id} ({self._cite(law.source)}), not {self._cite(src)}'s")
                return True
        if not laws:
            self.add(start, end, "unverifiable", src, "", "", f"{self._cite(src)} has no loss law of {', '.join(sorted(variables))} in the knowledge base")
            return True
        law = laws[0]
        try:
            big = {v.symbol: np.array([1e30]) for v in law.variables}
            law_inf = float(np.asarray(calc.native_eval(law, big)[0]).ravel()[0])
            claim_inf = float(np.asarray(claim(claim_env(big))).ravel()[0])
        except Exception:
            law_inf = claim_inf = math.nan
        added = False
        try:
            env = points(law)
            diff = np.asarray(claim(claim_env(env)), dtype=float) - np.asarray(calc.native_eval(law, env)[0], dtype=float)
            _, tol = tolerance(env)
            added = (not any(("irreducible",) in r for r in self._law_roles(law)) and float(np.ptp(diff)) <= 2 * float(tol.max())
                     and abs(float(diff.mean())) > 2 * float(tol.max()))
            if added:
                claim_inf = float(diff.mean())
        except Exception:
            pass
        if added or (abs(law_inf) < 1e-3 and claim_inf > 0.05):
            self.add(start, end, "wrong", law.id, law.formula, law.location,
                     f"the form adds a constant ({_fmt(claim_inf)}) that {law.id} does not have: {law.formula}")
            return True
        self.add(start, end, "wrong", law.id, f"{law.formula} with {self._consts(law)}", law.location,
                 f"formula disagrees with {law.id}: {law.formula} with {self._consts(law)}")
        return True

    @staticmethod
    def _consts(law):
        return ", ".join(f"{c.symbol} = {c.printed}" for c in law.constants if c.printed is not None)

    @staticmethod
    def _bump(rhs, i, lit, variables):
        toks = re.findall(rf"{_NUMX}|[A-Za-zα-ω∞_]+(?:_\w+)?|\*\*|[-+*/^()×·]|\S", rhs)
        k = -1
        for j, t in enumerate(toks):
            if re.match(r"[\d.]", t) and _numbers(t):
                k += 1
                if k == i:
                    toks[j] = repr(float(lit + Decimal(_ulp(lit))))
        return FormulaClaims._python(toks, variables)
