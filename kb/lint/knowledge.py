"""Knowledge: the catalog indexed for linting (values with their roles, names of papers, fitted
ranges, references.bib), built once per process from laws/*.toml."""

import ast
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from .document import _normalize
from .tokens import _numbers
from .vocab import _RANGE


@dataclass
class _Value:
    source: str
    law: str  # law id
    symbol: str
    printed: str
    location: str
    roles: frozenset
    kind: str = "constant"  # constant / alternative / check / derived
    note: str = ""
    tol: float = 0.0
    foreign: str = ""  # bibkey this value belongs to when a paper quotes another paper

    @property
    def f(self) -> float:
        return float(self.printed)


@dataclass
class _Index:
    catalog: object
    names: "list[tuple[str, str]]" = field(default_factory=list)  # (name, bibkey)
    name_map: dict = field(default_factory=dict)  # name -> bibkey (the same pairs, for lookups)
    surnames: "dict | None" = None  # first author surname -> bibkey, filled on first use
    name_re: "re.Pattern | None" = None
    values: "list[_Value]" = field(default_factory=list)
    by_source: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)  # bibkey -> {hint key: {law ids}}
    ranges: dict = field(default_factory=dict)  # bibkey -> [(dim, lo, hi, law, location)]
    bib: dict = field(default_factory=dict)  # bibkey -> {"eprint", "year", "title", "titles"}
    rule_of_thumb: dict = field(default_factory=dict)  # bibkey -> [(value, note)]
    flops: "object | None" = None  # the C = k N D rule law
    flops_factor: float = 0.0


# Vocabulary only: names under which people cite stored papers beyond their catalog names.
_ALIASES = {"OpenAI": "kaplan2020", "Epoch AI": "besiroglu2024", "Epoch": "besiroglu2024"}
_NAME_STOP = {"transfer", "emergence", "sparsity", "distillation", "learning", "fine-grained", "routed",
              "precision", "multimodal", "over-training", "inference-aware", "data-constrained", "theory",
              "compute", "data", "loss", "scaling", "critical", "optimal", "efficient", "training"}  # short names that are also everyday words of the field
_DIMS = {"params": "params", "tokens": "tokens", "FLOP": "compute", "PF-days": "compute"}


def _dimension(unit: str):
    from .. import units

    d = units.dimension(unit)
    if d:
        return d
    return {"steps": "steps", "nats/token": None}.get(unit)


def _hint_key(text: str) -> str:
    """'L(N, D)' / '\\hat L(N,D)' / 'L(C_min)' -> 'L(N,D)', 'L(C)'."""
    m = re.search(r"L\s*\(([^)]*)\)", text)
    if not m:
        return ""
    args = [a.strip()[:1] for a in m.group(1).split(",") if a.strip()]
    return "L(" + ",".join(args) + ")"


def _symbol_roles(sym: str) -> "set[tuple]":
    """Roles a conventional symbol name carries on its own (alpha_N, N_c, p_D, E, ...)."""
    m = re.fullmatch(r"(?:alpha|p|beta)_(N|D|C|S|B)(?:_min)?", sym)
    dim = {"N": "params", "D": "tokens", "C": "compute", "S": "steps", "B": "batch"}
    if m and sym.startswith("alpha"):
        return {("exp", "loss", dim[m.group(1)])}
    m = re.fullmatch(r"(N|D|C|S)_c(?:_min)?", sym)
    if m:
        return {("scale", dim[m.group(1)])}
    if sym in ("E", "L_inf", "L_0"):
        return {("irreducible",)}
    return set()


def _ast_roles(law, text: str, out_dim) -> "dict[str, set]":
    """Roles of constants from the formula's shape: exponents of variables, coefficients, offsets."""
    dims = {v.symbol: _dimension(v.unit) for v in law.variables}
    consts = {c.symbol for c in law.constants} | {w for w, _ in law.where}
    roles: "dict[str, set]" = {}
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return roles

    def names(node):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}

    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base_dims = {dims[x] for x in names(node.left) if x in dims and dims[x]}
            exps = names(node.right) & consts
            if len(base_dims) == 1:
                d = base_dims.pop()
                for e in exps:
                    roles.setdefault(e, set()).add(("exp", out_dim or "loss", d))
                for c in names(node.left) & consts:
                    roles.setdefault(c, set()).add(("scale", d))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Mult)):
            if isinstance(node.left, ast.Name) and node.left.id in consts:
                right_dims = {dims[x] for x in names(node.right) if x in dims and dims[x]}
                if len(right_dims) == 1 and isinstance(node.right, ast.BinOp) and isinstance(node.right.op, ast.Pow):
                    roles.setdefault(node.left.id, set()).add(("coef", right_dims.pop()))
    # an additive constant at the top level of a loss law: the irreducible loss
    if law.kind == "loss":
        terms, stack = [], [tree]
        while stack:
            t = stack.pop()
            if isinstance(t, ast.BinOp) and isinstance(t.op, ast.Add):
                stack += [t.left, t.right]
            else:
                terms.append(t)
        if len(terms) > 1:
            for t in terms:
                if isinstance(t, ast.Name) and t.id in consts:
                    roles.setdefault(t.id, set()).add(("irreducible",))
    return roles


def _pyeval(text: str, env: dict):
    """Evaluate an arithmetic law expression without numpy (formula language; checked by the schema)."""
    code = compile(ast.parse(text, mode="eval"), "<law>", "eval")
    scope = {"__builtins__": {}, "log": math.log, "exp": math.exp, "sqrt": math.sqrt, "ln": math.log,
             "log10": math.log10, "log2": math.log2, "abs": abs, "min": min, "max": max, "tanh": math.tanh}
    scope.update(env)
    return eval(code, scope)


def _read_bib(path: Path) -> dict:
    out = {}
    text = path.read_text(encoding="utf-8")
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.S):
        key, body = m.group(1), m.group(2)
        fields = {k.lower(): v for k, v in re.findall(r"(\w+)\s*=\s*\{(.*?)\}\s*,?\s*$", body, re.M)}
        titles = [re.sub(r"[{}]", "", fields.get("title", ""))]
        note = fields.get("note", "")
        nt = re.search(r"(?:arXiv )?title:\s*(.+)$", note)
        if nt:
            titles.append(nt.group(1).strip())
        out[key] = {"eprint": fields.get("eprint", ""), "year": fields.get("year", ""), "titles": titles}
    return out


@lru_cache(maxsize=1)
def _index() -> _Index:
    from .. import resources
    from ..catalog import published

    cat = published()
    ix = _Index(cat)
    own_names: "dict[str, set]" = {}
    for key, src in cat.sources.items():
        names = {key}
        short = re.sub(r"\s*\(.*?\)", "", src.short).strip()
        first = re.split(r"[\s,/]+", short)[0] if short else ""
        for cand in (short, first):
            if (cand and len(cand) >= 3 and cand[0].isupper() and cand.lower() not in _NAME_STOP
                    and not re.search(r"\d-|^M\d", cand) and " of " not in cand):
                names.add(cand)
        if src.authors:
            surname = src.authors[0].split()[-1]
            surname = surname[:-3] if surname.endswith("-AI") else surname
            names.add(surname)
        own_names[key] = {x.lower() for x in names}
        ix.names += [(x, key) for x in names]
    ix.names += [(a, k) for a, k in _ALIASES.items() if k in cat.sources]
    ix.names.sort(key=lambda t: -len(t[0]))
    ix.name_map = dict(ix.names)
    alts = "|".join(re.escape(x) for x, _ in ix.names)
    ix.name_re = re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])")
    owner_of = {}
    for key, names in own_names.items():
        for x in names:
            owner_of.setdefault(x, key)

    for law in cat.laws.values():
        src = law.source
        ix.by_source.setdefault(src, [])
        hk = _hint_key(_normalize(law.latex.split("=")[0])[0]) if law.latex else ""
        hints = ix.hints.setdefault(src, {})
        if hk:
            hints.setdefault(hk, set()).add(law.id)
        m = re.search(r"Approach (\d)", law.title)
        if m:
            hints.setdefault(f"approach {m.group(1)}", set()).add(law.id)
        foreign = ""
        for t in re.findall(r"[\w-]+", law.title) if re.search(r"\bquoted\b|as reported by|as cited", law.title) else ():
            if t.lower() in owner_of and owner_of[t.lower()] != src and t.lower() not in own_names[src]:
                foreign = owner_of[t.lower()]
        for v in law.variables:
            if v.fitted:
                ix.ranges.setdefault(src, []).append((_dimension(v.unit), v.fitted[0], v.fitted[1], law.id,
                                                      f"{law.location}; fitted range of {v.symbol}"))
        if law.kind == "tabulated" and law.variables:
            # a table has no formula; its printed exponents (one per output, in order: N_opt ~ C^a,
            # D_opt ~ C^b) take their roles from the power law the table follows
            var = law.variables[0].symbol
            dims = [_dimension(law.predicts.unit)] + [_dimension(o.unit) for o in law.outputs]
            roles = {}
            for c, dim in zip(law.constants, dims):
                for k, r in _ast_roles(law, f"{var}**{c.symbol}", dim).items():
                    roles.setdefault(k, set()).update(r)
        elif law.kind == "qualitative" or not law.formula:
            continue
        else:
            out_dim = _dimension(law.predicts.unit) if law.kind != "loss" else None
            roles = _ast_roles(law, law.formula, out_dim)
            for o in law.outputs:
                for k, r in _ast_roles(law, o.formula, _dimension(o.unit)).items():
                    roles.setdefault(k, set()).update(r)
        primary = {}
        for c in law.constants:
            r = frozenset(_symbol_roles(c.symbol) or roles.get(c.symbol, set()))
            if c.printed is not None:
                primary[c.symbol] = c.printed
                ix.values.append(_Value(src, law.id, c.symbol, c.printed, c.location, r, "constant", c.note,
                                        foreign=foreign))
            for a in c.alternatives:
                ix.values.append(_Value(src, law.id, c.symbol, a.value, a.location, r, "alternative", a.note,
                                        foreign=foreign))
        env = {c.symbol: c.value for c in law.constants if c.printed is not None}
        for name, expr in law.where:
            try:
                env[name] = _pyeval(expr, env)
            except Exception:
                continue
            r = frozenset(roles.get(name, set()))
            ix.values.append(_Value(src, law.id, name, repr(env[name]), f"{law.location} (computed)", r,
                                    "derived", "computed from the printed constants", foreign=foreign))
        for chk in law.checks:
            if chk.inconsistent or not re.fullmatch(r"[A-Za-z_]\w*", chk.expr.strip()):
                continue
            r = frozenset(roles.get(chk.expr.strip(), set()) | _symbol_roles(chk.expr.strip()))
            ix.values.append(_Value(src, law.id, chk.expr.strip(), chk.expect, chk.location, r, "check",
                                    chk.note, chk.tolerance, foreign=foreign))
        # the compute rule C = k N D
        if (law.kind == "rule" and law.predicts.symbol == "C" and {v.symbol for v in law.variables} == {"N", "D"}
                and not law.constants and ix.flops is None):
            try:
                k = _pyeval(law.formula, {"N": 1.0, "D": 1.0})
                if _pyeval(law.formula, {"N": 2, "D": 3}) == 6 * k:
                    ix.flops, ix.flops_factor = law, k
            except Exception:
                pass
    for v in ix.values:
        ix.by_source.setdefault(v.source, []).append(v)
    # ranges and rules of thumb printed in notes
    for key, src in cat.sources.items():
        texts = [(n.text, n.location) for n in src.notes]
        for law in cat.laws_of(key):
            texts += [(n.text, n.location or law.location) for n in law.notes]
        for text, loc in texts:
            norm = _normalize(text)[0]
            for m in _RANGE.finditer(norm):
                lo, hi = _numbers(m.group("a")), _numbers(m.group("b"))
                if lo and hi:
                    ix.ranges.setdefault(key, []).append((_unit_dim(m.group("unit")), lo[0].f, hi[0].f, key,
                                                          loc or "notes"))
            for m in re.finditer(r"(\d+(?:\.\d+)?) tokens per parameter'? is a rule of thumb", norm):
                ix.rule_of_thumb.setdefault(key, []).append((Decimal(m.group(1)), text))
    ix.bib = _read_bib(resources.bibliography())
    return ix


def _unit_dim(word: str):
    w = (word or "").lower()
    if "token" in w:
        return "tokens"
    if "flop" in w or "pf-day" in w:
        return "compute"
    return "params"


# ============================================================================ claim vocabulary
