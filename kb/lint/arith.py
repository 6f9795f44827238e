"""Claims checkable by arithmetic alone, and closed-form allocation formulas.

- Chains `a × b × c = v ≈ w`: each side made only of numbers (70B, 2 × 10^12, sqrt(...), x^p,
  fractions) is evaluated; adjacent sides must agree (printed precision of the right-hand number,
  and a relative tolerance: 1% after "=", 5% after "≈"/"~"). Sides with words or units are skipped.
- `N_opt = f(C)` / `D_opt = g(C)` written in closed form (prose or code): evaluated at a probe
  budget and compared with the compute constraint C = 6ND and with the allocation of the paper
  the formula belongs to (the paper in scope, or the one whose exponent the formula uses).
"""

import ast
import math
import re
from decimal import Decimal, InvalidOperation

from .document import _paragraphs
from .judge import _fmt, _ulp

_SCALE = {"K": 1e3, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?)(?:\s*([KkMBT])(?![A-Za-z]))?")
_REL = re.compile(r"\s*(?:~=|≈|=|~|\\approx)\s*")
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow,
            ast.USub, ast.UAdd, ast.Call, ast.Name, ast.Load)


def _pyexpr(side: str, names=("sqrt",)) -> "str | None":
    """A side of an equation as a Python expression over numbers (and `names`), or None."""
    t = side.strip().strip("$").strip()
    t = re.sub(r"\\boxed|\\text\{[^}]*\}|\\,|\\!|\\left|\\right|\\mathrm", " ", t).strip("* ")  # bold marks
    t = t.replace("\\sqrt", "sqrt").replace("√", "sqrt").replace("×", "*").replace("·", "*").replace("⋅", "*")
    t = t.replace("^", "**").replace("{", "(").replace("}", ")").replace("[", "(").replace("]", ")")
    t = t.replace("−", "-").replace("\\times", "*").replace("\\cdot", "*")
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)
    t = _NUMBER.sub(lambda m: f"({m.group(1)}*{_SCALE[m.group(2)]:g})" if m.group(2) else m.group(1), t)
    t = re.sub(r"(\d)\s*\(", r"\1*(", t)  # "2 (x)" -> "2*(x)"
    bare = re.sub(r"(?<=\d)[eE](?=[-+]?\d)", "", t)  # 9.6e22 is a number, not a word
    if not t or re.search(r"[A-Za-z_]", re.sub(r"\b(?:sqrt|" + "|".join(names) + r")\b", "", bare)):
        return None
    return t


def _eval(expr: str, env=None) -> "float | None":
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            return None
        if isinstance(node, ast.Name) and node.id != "sqrt" and node.id not in (env or {}):
            return None
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id == "sqrt" and len(node.args) == 1):
            return None
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            return None
    try:
        v = eval(compile(tree, "<claim>", "eval"), {"__builtins__": {}}, {"sqrt": math.sqrt, **(env or {})})
    except (ArithmeticError, ValueError, TypeError, OverflowError):
        return None
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def _printed(side: str) -> "Decimal | None":
    """The single number a side consists of, with its printed digits (for the precision)."""
    m = re.fullmatch(r"\s*\$?\s*(?:\\boxed\{)?\s*(\d+(?:\.\d+)?)\s*(?:[KkMBT])?\s*\}?\s*\$?\s*", side)
    if not m:
        return None
    try:
        return Decimal(m.group(1))
    except InvalidOperation:
        return None


_MATHY = set("0123456789.,+-*/×·⋅^(){}[] \t√$")


def _numeric_tail(side: str) -> str:
    """The end of `side` made of numbers, operators and sqrt (a backward scan: linear)."""
    i = len(side)
    while i > 0:
        c = side[i - 1]
        if c in _MATHY or (c in "KMBTeE" and i > 1 and side[i - 2].isdigit()) or (c in "Ee" and i < len(side) and side[i:i + 1].isdigit()):
            i -= 1
        elif side[max(0, i - 4):i] == "sqrt":
            i -= 4
        else:
            break
    return side[i:]


def _numeric_head(side: str) -> str:
    """The start of `side` made of numbers, operators and sqrt (a forward scan: linear)."""
    i, n = 0, len(side)
    while i < n:
        c = side[i]
        if c in _MATHY or (c in "KMBT" and i and side[i - 1].isdigit() and not side[i + 1:i + 2].isalpha()) or \
                (c in "eE" and i and side[i - 1].isdigit() and (side[i + 1:i + 2].isdigit() or side[i + 1:i + 2] in "+-")):
            i += 1
        elif side.startswith("sqrt", i):
            i += 4
        else:
            break
    return side[:i]


# N_opt = ..., D_opt = ..., params = ..., tokens = ... with C on the right-hand side
_ALLOC_DEF = re.compile(r"(?P<lhs>\b(?:N|Ψ|D)(?:_?\(?opt\)?|\*|\^\*)|\boptimal_(?:params|tokens)\b|\b(?:params|tokens)\b)\s*(?:≈|=|~)\s*"
                        r"(?P<rhs>(?:sqrt|[0-9C(√])[^,;=\n]*?)(?=\s*(?:#|//|,|;|$|\n|\s{2,}|\)\s*$))")
_PROBE = 1e23  # FLOP: inside every stored allocation law's useful range


class ArithClaims:
    def arithmetic(self, a, s, consume):
        """Chains of '=' / '≈' between numeric sides in one sentence (math, code or prose)."""
        if "=" not in s and "≈" not in s:
            return
        rels = list(_REL.finditer(s))
        if not rels:
            return
        bounds = [0] + [x for m in rels for x in (m.start(), m.end())] + [len(s)]
        sides = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
        for i, m in enumerate(rels):
            (l0, l1), (r0, r1) = sides[i], sides[i + 1]
            lhs, rhs = s[l0:l1], s[r0:r1]
            # only the numeric tail of the left side and head of the right side belong to the chain
            lt, rh = _numeric_tail(lhs), _numeric_head(rhs)
            rh = rh.rstrip().rstrip(".,;:")
            le, re_ = _pyexpr(lt), _pyexpr(rh)
            if le is None or re_ is None or not re.search(r"[*/+\-]|sqrt", le):
                continue
            x, y = _eval(le), _eval(re_)
            if x is None or y is None or y == 0:
                continue
            approx = m.group(0).strip() != "="
            printed = _printed(rh)
            tol = 5 / 100 if approx else 1 / 100
            if printed is not None and y != 0:
                tol = max(tol, _ulp(printed) / float(printed) if float(printed) else tol)
            consume(l0, r1)
            if abs(x - y) <= tol * abs(y) + 1e-12:
                continue  # correct arithmetic is no claim about a paper: stay quiet unless wrong
            self.add(a + r0, a + r0 + len(rh), "wrong", "", _fmt(x), "arithmetic",
                     f"{' '.join(lt.split())} = {_fmt(x)}, not {' '.join(rh.split())}")

    def allocation_formulas(self, a, b, mentions, ctx):
        """Closed-form N_opt(C) / D_opt(C) in a paragraph, judged together."""
        text = self.doc.norm
        found = {}
        for m in _ALLOC_DEF.finditer(text, a, b):
            lhs = m.group("lhs").lower()
            dim = "tokens" if lhs.startswith(("d", "tokens", "optimal_tokens")) else "params"
            expr = _pyexpr(m.group("rhs"), names=("C",))
            if expr is None or "C" not in expr:
                continue
            v1, v2 = _eval(expr, {"C": _PROBE}), _eval(expr, {"C": _PROBE * 10})
            if not v1 or not v2 or v1 <= 0 or v2 <= 0:
                continue
            found.setdefault(dim, (m, v1, math.log10(v2 / v1)))
        if "params" not in found:
            return
        m, n, slope = found["params"]
        src = self._alloc_source(slope, m.start(), mentions, ctx)
        if not src:
            return
        from .. import optimal

        try:
            opt = optimal(src, [_PROBE])
            n_opt, d_opt = float(opt.N[0]), float(opt.D[0])
        except Exception:  # noqa: BLE001 - a source the calculator cannot optimise is simply not checked
            return
        ratios = [d_opt / n_opt] + [float(v) for v, _ in self.ix.rule_of_thumb.get(src, [])]
        what = f"N_opt({_PROBE:.0e} FLOP) = {_fmt(n)}"
        if "tokens" in found:
            dm, d, _ = found["tokens"]
            ratio = d / n
            if not any(w / 2.5 <= ratio <= w * 2.5 for w in ratios):
                for at in (m, dm):
                    self.add(at.start(), at.end(), "wrong", src, f"D/N = {' or '.join(_fmt(w) for w in ratios)}", "compute-optimal allocation",
                             f"these formulas give D/N = {_fmt(ratio)} at {_PROBE:.0e} FLOP; {self._cite(src)} gives "
                             f"{' or '.join(_fmt(w) for w in ratios)}")
                return
        wanted = [n_opt] + [math.sqrt(_PROBE / (6 * w)) for w in ratios[1:]]  # rules of thumb with C = 6ND
        if not any(w / 3 <= n <= w * 3 for w in wanted):
            self.add(m.start(), m.end(), "wrong", src, _fmt(n_opt), "compute-optimal allocation",
                     f"{what}, but {self._cite(src)} gives {_fmt(n_opt)} at that budget")

    def code_blocks(self, ctx):
        """The formula and arithmetic checks over fenced code (hidden from the prose finders)."""
        doc = self.doc
        if not doc.code.strip():
            return
        saved = doc.norm, doc.idx
        doc.norm, doc.idx = doc.code, doc.code_idx
        try:
            for p0, p1 in _paragraphs(doc.code):
                mentions = self._mentions(p0, p1)
                pctx = [k for _, k in mentions] or ctx
                if "C" in doc.code[p0:p1]:
                    self.allocation_formulas(p0, p1, mentions, pctx)
                for line in re.finditer(r"[^\n]+", doc.code[p0:p1]):
                    at = p0 + line.start()
                    self.arithmetic(at, line.group(0), lambda x0, x1: None)
                    self.derived(at, line.group(0), mentions, pctx, lambda x0, x1: None, "", doc.list_parent(at))
        finally:
            doc.norm, doc.idx = saved

    def _alloc_source(self, slope, pos, mentions, ctx):
        """The paper in scope, else the one whose N_opt exponent the formula uses."""
        src = self._source_at(pos, mentions, ctx)
        if src and any(("exp", "params", "compute") in v.roles for v in self.ix.by_source.get(src, [])):
            return src
        for key, vals in self.ix.by_source.items():
            if any(("exp", "params", "compute") in v.roles and abs(v.f - slope) < 0.02 for v in vals if not v.foreign):
                return key
        return None
