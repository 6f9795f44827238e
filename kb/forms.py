"""Fit forms for `kb fit`: the small reader of `kb/forms.toml`, where the forms are data
written in the formula language (as pint keeps its definitions in a file).

A form is a formula over variables (data columns) and parameters, plus what a fitter needs:
bounds, which parameters are best searched on a log scale, which enter linearly (the
amplitudes that variable projection solves exactly for given exponents), a coarse start
grid over the others, and derived quantities (allocation exponents, N_opt at a budget).

Derivatives are not written by hand: `Form.derivatives()` differentiates the formula
symbolically (first and second order) and compiles the results with the same safe
formula language, so a new form needs no new code. No paper's fitted constants appear
here; start grids and bounds are generic search ranges.
"""

import ast
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from . import formula as formula_lang
from .errors import KbError, UnknownId

# helper calls available to derivative formulas (not to law files): step functions
# that arise when differentiating min, max and abs; their own derivatives are zero.
HELPERS = ("_lt", "_sign")


def helper_env():
    import numpy as np

    return {"_lt": lambda a, b: (np.asarray(a) < np.asarray(b)).astype(float), "_sign": np.sign}


@dataclass(frozen=True)
class Param:
    name: str
    lo: float
    hi: float
    log: bool = False  # search log(p) instead of p (positive scale constants)
    start: "tuple[float, ...]" = ()  # coarse start grid (not used for linear amplitudes)
    linear: bool = False  # the model is linear in it: solved exactly on the start grid
    unit: str = ""


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    formula: str
    variables: "tuple[str, ...]"
    params: "tuple[Param, ...]"
    target: str = "loss"  # the measured column the formula predicts
    predicts: "tuple[str, str, str]" = ("L", "final loss", "nats/token")
    kind: str = "loss"
    latex: str = ""
    where: "tuple[tuple[str, str], ...]" = ()  # named sub-expressions, evaluated in order
    derived: "tuple[tuple[str, str], ...]" = ()  # over params and the budget C
    optimum: "tuple[str, str] | None" = None  # derived names of N_opt, D_opt at the budget
    source: str = ""  # bibkey of the paper that introduced the form
    note: str = ""

    @property
    def names(self) -> "tuple[str, ...]":
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def compiled(self) -> "Program":
        """A callable over an env of variables and parameters: the form's value."""
        return _program(self, (), 0)

    def program(self, free: "tuple[str, ...]", order: int = 2) -> "Program":
        """The value with its first (order >= 1) and second (order 2) derivatives by `free`,
        as one straight-line program: each `where` name and each derivative is a step."""
        return _program(self, tuple(free), order)

    def derivatives(self, free: "tuple[str, ...]", second: bool = True):
        """({p: callable}, {(p, q): callable}) for p before q in `free` (for tests and tools;
        fitting runs `program` once instead)."""
        prog = self.program(tuple(free), 2 if second else 1)

        def out(name):
            return lambda env: prog.run(env)[name] if name else 0.0

        return ({p: out(n) for p, n in prog.d1.items()}, {k: out(n) for k, n in prog.d2.items()})


# ----------------------------------------------------------------------------- the forms
# The forms are data (kb/forms.toml, beside this module); this is the small reader. The file is
# ours, but it is checked as strictly as a user's: unknown keys or a start grid that names no
# grid are errors at import, not silent defaults.

_FORM_KEYS = set(Form.__dataclass_fields__)
_PARAM_KEYS = set(Param.__dataclass_fields__)


def _pairs(value, sets: dict, where: str) -> "tuple[tuple[str, str], ...]":
    if isinstance(value, str):
        if value not in sets:
            raise KbError(f"forms.toml: {where} names no derived set '{value}'")
        value = sets[value]
    return tuple((str(a), str(b)) for a, b in value)


def _param(entry: dict, grids: dict, form: str) -> Param:
    extra = set(entry) - _PARAM_KEYS
    if extra:
        raise KbError(f"forms.toml: form {form}: unknown parameter keys {sorted(extra)}")
    start = entry.get("start", ())
    if isinstance(start, str):
        if start not in grids:
            raise KbError(f"forms.toml: form {form}: start names no grid '{start}'")
        start = grids[start]
    return Param(**{**entry, "lo": float(entry["lo"]), "hi": float(entry["hi"]),
                    "start": tuple(float(x) for x in start)})


def _load(path) -> "dict[str, Form]":
    import tomllib  # the standard parser: the file is small and read once per process

    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    grids = {k: tuple(v) for k, v in data.get("grids", {}).items()}
    sets = data.get("derived_sets", {})
    out = {}
    for entry in data["form"]:
        name = entry["name"]
        extra = set(entry) - _FORM_KEYS
        if extra:
            raise KbError(f"forms.toml: form {name}: unknown keys {sorted(extra)}")
        fields = {**entry, "variables": tuple(entry["variables"]),
                  "params": tuple(_param(p, grids, name) for p in entry["params"])}
        for key in ("where", "derived"):
            if key in entry:
                fields[key] = _pairs(entry[key], sets, f"form {name}: {key}")
        for key in ("predicts", "optimum"):
            if key in entry:
                fields[key] = tuple(entry[key])
        out[name] = Form(**fields)
    return out


FORMS: "dict[str, Form]" = _load(Path(__file__).with_name("forms.toml"))


def get(name: str) -> Form:
    if isinstance(name, Form):
        return name
    key = str(name).strip().lower().replace("-", "_")  # `--form isik-bleu` as typed on a CLI
    if key not in FORMS:
        raise UnknownId("fit form", str(name), list(FORMS))
    return FORMS[key]


def variant(form: Form, tie=None, bounds=None, starts=None) -> Form:
    """The form with parameters tied ({kept: follower}: the follower is replaced by the kept
    parameter everywhere, so the fit has one parameter fewer), bounds replaced ({name: (lo,
    hi)}) and start grids replaced ({name: (v, ...)}). Returns `form` itself when all are empty."""
    tie, bounds, starts = dict(tie or {}), dict(bounds or {}), dict(starts or {})
    if not (tie or bounds or starts):
        return form
    names = set(form.names)
    for what, given in (("tie", list(tie) + list(tie.values())), ("bounds", bounds), ("starts", starts)):
        for name in given:
            if name not in names:
                raise KbError(f"{what}: form {form.name} has no parameter '{name}'; it has {', '.join(form.names)}")
    followers = set(tie.values())
    for kept, follower in tie.items():
        if kept == follower or kept in followers:
            raise KbError(f"tie {kept}={follower}: a parameter can be tied to another only once, not in a chain")
    for name in list(bounds) + list(starts):
        if name in followers:
            raise KbError(f"'{name}' is tied to another parameter: set bounds and starts on that one")
    params = []
    for p in form.params:
        if p.name in followers:
            continue
        lo, hi = bounds.get(p.name, (p.lo, p.hi))
        lo, hi = float(lo), float(hi)
        for kept, follower in tie.items():
            if kept == p.name:  # the tied parameter must satisfy both parameters' bounds
                q = form.param(follower)
                if p.name not in bounds:
                    lo, hi = max(lo, q.lo), min(hi, q.hi)
                p = replace(p, linear=p.linear and q.linear)
        if not lo < hi or (p.log and lo <= 0):
            raise KbError(f"bounds of {p.name}: need lo < hi{' and lo > 0 (a scale parameter)' if p.log else ''}, "
                          f"got {lo:g}:{hi:g}")
        grid = tuple(float(v) for v in starts.get(p.name, p.start))
        if p.name in starts and not all(lo <= v <= hi for v in grid):
            raise KbError(f"starts of {p.name} must lie within its bounds [{lo:g}, {hi:g}]")
        grid = tuple(v for v in grid if lo <= v <= hi)  # starts outside new bounds are dropped
        params.append(replace(p, lo=lo, hi=hi, start=grid))
    known = set(form.variables) | names
    defs = {f: ("var", k) for k, f in tie.items()}

    def sub(text, extra=()):
        return to_text(substitute(parse_tree(text, known | set(extra)), defs)) if defs else text

    where, seen = [], []
    for w, text in form.where:
        where.append((w, sub(text, seen)))
        seen.append(w)
    derived, seen = [], ["C"]
    for d, text in form.derived:
        derived.append((d, sub(text, seen)))
        seen.append(d)
    return replace(form, formula=sub(form.formula, [w for w, _ in form.where]), params=tuple(params),
                   where=tuple(where), derived=tuple(derived))


# ----------------------------------------------------------------------------- symbolic calculus
# Expressions as tuples: ("num", v) ("var", name) ("+", a, b) ("-", a, b) ("*", a, b)
# ("/", a, b) ("**", a, b) ("neg", a) ("call", fname, (args...))

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def _to_tree(node):
    if isinstance(node, ast.Expression):
        return _to_tree(node.body)
    if isinstance(node, ast.Constant):
        return ("num", float(node.value))
    if isinstance(node, ast.Name):
        return ("var", node.id)
    if isinstance(node, ast.BinOp):
        return (_OPS[type(node.op)], _to_tree(node.left), _to_tree(node.right))
    if isinstance(node, ast.UnaryOp):
        inner = _to_tree(node.operand)
        return _neg(inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Call):
        return ("call", node.func.id, tuple(_to_tree(a) for a in node.args))
    raise KbError(f"cannot differentiate {type(node).__name__}")  # parse() already rejected it


def parse_tree(text: str, names):
    formula_lang.parse(text, names, extra_calls=HELPERS)  # the safety check
    return _to_tree(ast.parse(text.strip(), mode="eval"))


def _num(v):
    return ("num", float(v))


def _isnum(e, v=None):
    return e[0] == "num" and (v is None or e[1] == v)


def _add_(a, b):
    if _isnum(a, 0.0):
        return b
    if _isnum(b, 0.0):
        return a
    if _isnum(a) and _isnum(b):
        return _num(a[1] + b[1])
    return ("+", a, b)


def _sub(a, b):
    if _isnum(b, 0.0):
        return a
    if _isnum(a, 0.0):
        return _neg(b)
    if _isnum(a) and _isnum(b):
        return _num(a[1] - b[1])
    return ("-", a, b)


def _mul(a, b):
    if _isnum(a, 0.0) or _isnum(b, 0.0):
        return _num(0.0)
    if _isnum(a, 1.0):
        return b
    if _isnum(b, 1.0):
        return a
    if _isnum(a) and _isnum(b):
        return _num(a[1] * b[1])
    return ("*", a, b)


def _div(a, b):
    if _isnum(a, 0.0):
        return _num(0.0)
    if _isnum(b, 1.0):
        return a
    return ("/", a, b)


def _pow(a, b):
    if _isnum(b, 1.0):
        return a
    if _isnum(b, 0.0):
        return _num(1.0)
    return ("**", a, b)


def _neg(a):
    if _isnum(a):
        return _num(-a[1])
    if a[0] == "neg":
        return a[1]
    return ("neg", a)


def _call(f, *args):
    return ("call", f, tuple(args))


@lru_cache(maxsize=None)
def _free(e) -> frozenset:
    if e[0] == "num":
        return frozenset()
    if e[0] == "var":
        return frozenset([e[1]])
    if e[0] == "call":
        return frozenset().union(*(_free(a) for a in e[2]))
    return frozenset().union(*(_free(a) for a in e[1:]))


@lru_cache(maxsize=None)
def diff(e, x):
    """d e / d x, symbolically."""
    if x not in _free(e):
        return _num(0.0)
    op = e[0]
    if op == "var":
        return _num(1.0)
    if op == "neg":
        return _neg(diff(e[1], x))
    if op in "+-":
        a, b = diff(e[1], x), diff(e[2], x)
        return _add_(a, b) if op == "+" else _sub(a, b)
    if op == "*":
        return _add_(_mul(diff(e[1], x), e[2]), _mul(e[1], diff(e[2], x)))
    if op == "/":
        u, v = e[1], e[2]
        du, dv = diff(u, x), diff(v, x)
        if _isnum(dv, 0.0):
            return _div(du, v)
        return _sub(_div(du, v), _div(_mul(u, dv), _mul(v, v)))
    if op == "**":
        u, v = e[1], e[2]
        du, dv = diff(u, x), diff(v, x)
        if _isnum(dv, 0.0):  # u**c
            return _mul(_mul(v, _pow(u, _sub(v, _num(1.0)))), du)
        if _isnum(du, 0.0):  # c**v
            return _mul(_mul(e, _call("log", u)), dv)
        return _mul(e, _add_(_mul(dv, _call("log", u)), _div(_mul(v, du), u)))
    if op == "call":
        f, args = e[1], e[2]
        if f in HELPERS:
            return _num(0.0)
        a = args[0]
        da = diff(a, x)
        if f in ("log", "ln"):
            return _div(da, a)
        if f == "log10":
            return _div(da, _mul(a, _num(math.log(10.0))))
        if f == "log2":
            return _div(da, _mul(a, _num(math.log(2.0))))
        if f == "exp":
            return _mul(e, da)
        if f == "sqrt":
            return _div(da, _mul(_num(2.0), e))
        if f == "tanh":
            return _mul(_sub(_num(1.0), _mul(e, e)), da)
        if f == "abs":
            return _mul(_call("_sign", a), da)
        if f in ("min", "max"):
            b = args[1]
            db = diff(b, x)
            lt = _call("_lt", a, b)
            first, second = (da, db) if f == "min" else (db, da)
            return _add_(_mul(lt, first), _mul(_sub(_num(1.0), lt), second))
    raise KbError(f"cannot differentiate '{op}'")


def substitute(e, defs: dict):
    if e[0] == "var":
        return defs.get(e[1], e)
    if e[0] == "num":
        return e
    if e[0] == "call":
        return ("call", e[1], tuple(substitute(a, defs) for a in e[2]))
    return (e[0], *(substitute(a, defs) for a in e[1:]))


def to_text(e) -> str:
    op = e[0]
    if op == "num":
        return repr(e[1]) if e[1] >= 0 else f"({e[1]!r})"
    if op == "var":
        return e[1]
    if op == "neg":
        return f"(-{to_text(e[1])})"
    if op == "call":
        return f"{e[1]}({', '.join(to_text(a) for a in e[2])})"
    return f"({to_text(e[1])} {op} {to_text(e[2])})"


class Program:
    """Straight-line code: [(name, Formula)] run in order over an env; `value`, `d1[p]`,
    `d2[(p, q)]` name the results (absent derivative names are identically zero)."""

    def __init__(self, steps, value, d1, d2):
        self.steps, self.value, self.d1, self.d2 = steps, value, d1, d2

    def run(self, env: dict) -> dict:
        env = dict(env)
        for name, f in self.steps:
            env[name] = f(env)
        return env

    def __call__(self, env: dict):
        return self.run(env)[self.value]


@lru_cache(maxsize=None)
def _program(form: Form, free, order) -> Program:
    """Forward-mode symbolic differentiation through the `where` chain: every intermediate
    w gets steps w, _d_w__p and _d2_w__p__q, each a short formula over earlier steps."""
    known = set(form.variables) | set(form.names)
    trees = []  # (name, tree)
    dname = {}  # (name, q) -> name of d name / d q

    def total(e, q):
        out = diff(e, q)
        for v in sorted(_free(e)):
            if (v, q) in dname:
                out = _add_(out, _mul(diff(e, v), ("var", dname[(v, q)])))
        return out

    defs = list(form.where) + [("_F", form.formula)]
    for w, text in defs:
        tree = parse_tree(text, known | {n for n, _ in trees})
        trees.append((w, tree))
        if order >= 1:
            firsts = {}
            for p in free:
                t = total(tree, p)
                if not _isnum(t, 0.0):
                    firsts[p] = (f"_d_{w}__{p}", t)
            for p, (name, t) in firsts.items():
                trees.append((name, t))
                dname[(w, p)] = name
            if order >= 2:
                for i, p in enumerate(free):
                    if p not in firsts:
                        continue
                    dp_name, dp_tree = firsts[p]
                    for q in free[i:]:
                        t = total(dp_tree, q)
                        if not _isnum(t, 0.0):
                            name = f"_d2_{w}__{p}__{q}"
                            trees.append((name, t))
                            dname[(dp_name, q)] = name
    steps, names = [], set(known)
    for name, tree in _cse(trees):
        steps.append((name, formula_lang.parse(to_text(tree), names, extra_calls=HELPERS,
                                               what=f"form {form.name}, step {name}")))
        names.add(name)
    d1 = {p: dname.get(("_F", p)) for p in free} if order >= 1 else {}
    d2 = {}
    if order >= 2:
        for i, p in enumerate(free):
            for q in free[i:]:
                d2[(p, q)] = dname.get((dname.get(("_F", p)), q))
    return Program(steps, "_F", d1, d2)


def _cse(trees):
    """Common subexpressions of the steps hoisted into steps of their own (`_c0`, `_c1`...):
    derivatives repeat N**alpha and log(N) many times, and each is an array operation."""
    counts = {}

    def visit(e):
        if e[0] in ("num", "var"):
            return
        counts[e] = counts.get(e, 0) + 1
        if counts[e] == 1:  # children of a repeated subtree are counted once, inside it
            for a in (e[2] if e[0] == "call" else e[1:]):
                visit(a)

    for _, tree in trees:
        visit(tree)
    named, out = {}, []

    def rewrite(e, top=False):
        if e[0] in ("num", "var"):
            return e
        if e in named:
            return ("var", named[e])
        if e[0] == "call":
            r = ("call", e[1], tuple(rewrite(a) for a in e[2]))
        else:
            r = (e[0], *(rewrite(a) for a in e[1:]))
        if counts.get(e, 0) > 1 and not top:
            named[e] = f"_c{len(named)}"
            out.append((named[e], r))
            return ("var", named[e])
        return r

    for name, tree in trees:
        r = rewrite(tree, top=True)
        named.setdefault(tree, name)  # a later step that repeats a whole earlier step reuses it
        out.append((name, r))
    return out


def compile_derived(form: Form):
    """[(name, Formula)] for the form's derived quantities, over params, C and earlier names."""
    names = set(form.names) | {"C"}
    out = []
    for name, text in form.derived:
        out.append((name, formula_lang.parse(text, names, what=f"derived {name}")))
        names.add(name)
    return out
