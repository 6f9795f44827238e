"""Fit forms for `kb fit`, written as data in the formula language.

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

_EXP = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.3)
_EXP_FINE = tuple(round(0.04 + 0.04 * i, 2) for i in range(30))  # 0.04 .. 1.2
# two exponents: a 14 x 14 grid, denser where published exponents lie (0.05 .. 0.6); the
# polish from the 8 best distant points finds the optimum (bench/fit.py checks on all data)
_EXP_PAIR = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.65, 0.8, 1.0, 1.3)

_ALLOCATION = (
    ("a", "beta / (alpha + beta)"),
    ("b", "alpha / (alpha + beta)"),
    ("G", "(alpha * A / (beta * B))**(1 / (alpha + beta))"),
    ("N_opt", "G * (C / 6)**a"),
    ("D_opt", "(C / 6)**b / G"),
    ("tokens_per_param", "D_opt / N_opt"),
    ("L_opt", "E + A / N_opt**alpha + B / D_opt**beta"),
)

FORMS: "dict[str, Form]" = {}


def _add(form: Form) -> Form:
    FORMS[form.name] = form
    return form


_add(Form(
    name="chinchilla",
    title="Chinchilla parametric loss (Approach 3)",
    formula="E + A / N**alpha + B / D**beta",
    latex=r"L(N, D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}}",
    variables=("N", "D"),
    params=(
        Param("E", 1e-4, 20.0, log=True, linear=True, unit="nats/token"),
        Param("A", 1e-4, 1e15, log=True, linear=True, unit="nats/token * params^alpha"),
        Param("B", 1e-4, 1e15, log=True, linear=True, unit="nats/token * tokens^beta"),
        Param("alpha", 1e-3, 3.0, start=_EXP_PAIR),
        Param("beta", 1e-3, 3.0, start=_EXP_PAIR),
    ),
    derived=_ALLOCATION,
    optimum=("N_opt", "D_opt"),
    source="hoffmann2022",
    note="Compute-optimal allocation under C = 6ND in closed form (Hoffmann et al. eq 4).",
))

_add(Form(
    name="kaplan",
    title="Kaplan L(N, D)",
    formula="((N_c / N)**(alpha_N / alpha_D) + D_c / D)**alpha_D",
    latex=r"L(N,D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N/\alpha_D} + \frac{D_c}{D}\right]^{\alpha_D}",
    variables=("N", "D"),
    params=(
        Param("N_c", 1e3, 1e25, log=True, start=(1e9, 1e11, 1e13, 1e15, 1e17), unit="params"),
        Param("D_c", 1e3, 1e25, log=True, start=(1e9, 1e11, 1e13, 1e15, 1e17), unit="tokens"),
        Param("alpha_N", 1e-3, 2.0, start=(0.03, 0.07, 0.15, 0.3, 0.6)),
        Param("alpha_D", 1e-3, 2.0, start=(0.03, 0.07, 0.15, 0.3, 0.6)),
    ),
    source="kaplan2020",
    note="No irreducible term: the loss goes to 0 as N, D grow.",
))

_add(Form(
    name="power",
    title="Single power law",
    formula="A / X**alpha",
    latex=r"L(X) = \frac{A}{X^{\alpha}}",
    variables=("X",),
    params=(
        Param("A", 1e-8, 1e30, log=True, linear=True),
        Param("alpha", 1e-4, 5.0, start=_EXP_FINE),
    ),
))

_add(Form(
    name="power_offset",
    title="Power law with an irreducible term",
    formula="E + A / X**alpha",
    latex=r"L(X) = E + \frac{A}{X^{\alpha}}",
    variables=("X",),
    params=(
        Param("E", 1e-6, 100.0, log=True, linear=True),
        Param("A", 1e-8, 1e30, log=True, linear=True),
        Param("alpha", 1e-4, 5.0, start=_EXP_FINE),
    ),
))

_add(Form(
    name="isik_bleu",
    title="Isik et al. log-law for translation scores",
    formula="(log(A * D**alpha))**beta",
    latex=r"f(D_p) = \left(\log(A\,D_p^{\alpha})\right)^{\beta}",
    variables=("D",),
    target="score",
    predicts=("f", "downstream score (BLEU or COMET)", ""),
    kind="downstream",
    params=(
        Param("A", 1e-30, 1e30, log=True, start=(1e-6, 1e-3, 1.0, 1e3)),
        Param("alpha", 1e-4, 5.0, start=(0.05, 0.1, 0.2, 0.5, 1.0)),
        Param("beta", 1e-3, 10.0, start=(0.5, 1.0, 1.5, 2.0, 3.0)),
    ),
    source="isik2024",
    note="D is pretraining tokens; the log base is not stated in the paper (natural log here).",
))

_add(Form(
    name="isik_ce",
    title="Isik et al. downstream cross-entropy law",
    formula="E + A / D**alpha",
    latex=r"L(D_p) = E + \frac{A}{D_p^{\alpha}}",
    variables=("D",),
    kind="downstream",
    predicts=("L", "downstream cross-entropy after finetuning", "nats/token"),
    params=(
        Param("E", 1e-6, 100.0, log=True, linear=True, unit="nats/token"),
        Param("A", 1e-8, 1e30, log=True, linear=True),
        Param("alpha", 1e-4, 5.0, start=_EXP_FINE),
    ),
    source="isik2024",
))

_add(Form(
    name="muennighoff",
    title="Muennighoff et al. data-constrained loss",
    formula="E + A / N_eff**alpha + B / D_eff**beta",
    latex=r"L = E + \frac{A}{N'^{\alpha}} + \frac{B}{D'^{\beta}}",
    variables=("N", "D", "U_D"),
    where=(
        ("G", "(alpha * A / (beta * B))**(1 / (alpha + beta))"),
        ("U_N", "min((U_D * G)**(beta / alpha) * G, N)"),
        ("R_N", "max(N / U_N - 1, 0)"),
        ("R_D", "D / U_D - 1"),
        ("N_eff", "U_N + U_N * R_N_star * (1 - exp(-R_N / R_N_star))"),
        ("D_eff", "U_D + U_D * R_D_star * (1 - exp(-R_D / R_D_star))"),
    ),
    params=(
        Param("E", 1e-4, 20.0, log=True, linear=True, unit="nats/token"),
        Param("A", 1e-2, 1e15, log=True, start=(1e2, 1e3)),
        Param("B", 1e-2, 1e15, log=True, start=(1e2, 1e3)),
        Param("alpha", 1e-2, 2.0, start=(0.2, 0.35, 0.5)),
        Param("beta", 1e-2, 2.0, start=(0.2, 0.35, 0.5)),
        Param("R_N_star", 1e-2, 1e4, log=True, start=(2.0, 5.0, 20.0)),
        Param("R_D_star", 1e-2, 1e4, log=True, start=(2.0, 5.0, 20.0)),
    ),
    source="muennighoff2023",
    note="U_D: unique tokens; repeated data and excess parameters decay with R_D_star, R_N_star. "
         "The paper fits only R_N_star and R_D_star with the others frozen: pass fixed=.",
))


_SCALE = (1e5, 1e7, 1e9, 1e11, 1e13, 1e15, 1e17, 1e19, 1e21)

_add(Form(
    name="broken_power",
    title="Broken neural scaling law, one break (Caballero et al.)",
    formula="E + B * X**(-c0) * (1 + (X / d1)**(1 / f1))**(-c1 * f1)",
    latex=r"L(X) = E + B X^{-c_0} \left(1 + \left(\frac{X}{d_1}\right)^{1/f_1}\right)^{-c_1 f_1}",
    variables=("X",),
    params=(
        Param("E", 1e-6, 100.0, log=True, linear=True),
        Param("B", 1e-8, 1e30, log=True, linear=True),
        Param("c0", 0.0, 3.0, start=(0.0, 0.05, 0.1, 0.2, 0.4, 0.8)),
        Param("c1", -1.0, 3.0, start=(0.05, 0.1, 0.2, 0.4, 0.8)),
        Param("d1", 1.0, 1e25, log=True, start=_SCALE),
        Param("f1", 1e-2, 10.0, log=True, start=(0.1, 0.5, 2.0)),
    ),
    source="caballero2022",
    note="Slope c0 before the break at X = d1, c0 + c1 after it; f1 is the sharpness of the break. "
         "More breaks: write the product out in a law file.",
))

_add(Form(
    name="multiplicative",
    title="Multiplicative power law in N and D",
    formula="A / (N**alpha * D**beta)",
    latex=r"L(N, D) = \frac{A}{N^{\alpha} D^{\beta}}",
    variables=("N", "D"),
    params=(
        Param("A", 1e-8, 1e30, log=True, linear=True),
        Param("alpha", 0.0, 3.0, start=_EXP_PAIR),
        Param("beta", 0.0, 3.0, start=_EXP_PAIR),
    ),
    note="No irreducible term and no interaction beyond the product: log L is linear in log N and log D.",
))

_add(Form(
    name="multiplicative_offset",
    title="Multiplicative power law in N and D with an irreducible term",
    formula="E + A / (N**alpha * D**beta)",
    latex=r"L(N, D) = E + \frac{A}{N^{\alpha} D^{\beta}}",
    variables=("N", "D"),
    params=(
        Param("E", 1e-4, 20.0, log=True, linear=True, unit="nats/token"),
        Param("A", 1e-8, 1e30, log=True, linear=True),
        Param("alpha", 0.0, 3.0, start=_EXP_PAIR),
        Param("beta", 0.0, 3.0, start=_EXP_PAIR),
    ),
))

_add(Form(
    name="shifted_power",
    title="Shifted power law",
    formula="E + A / (X + X_0)**alpha",
    latex=r"L(X) = E + \frac{A}{(X + X_0)^{\alpha}}",
    variables=("X",),
    params=(
        Param("E", 1e-6, 100.0, log=True, linear=True),
        Param("A", 1e-8, 1e30, log=True, linear=True),
        Param("X_0", 1e-6, 1e25, log=True, start=_SCALE),
        Param("alpha", 1e-4, 5.0, start=_EXP),
    ),
    note="X_0 is where the curve bends from flat to a power law (e.g. an effective data offset).",
))

_add(Form(
    name="kaplan_n",
    title="Kaplan L(N): loss against parameters, data and compute not limiting",
    formula="(N_c / N)**alpha_N",
    latex=r"L(N) = \left(\frac{N_c}{N}\right)^{\alpha_N}",
    variables=("N",),
    params=(
        Param("N_c", 1e3, 1e30, log=True, start=_SCALE[2:] + (1e23, 1e25)),
        Param("alpha_N", 1e-3, 2.0, start=_EXP),
    ),
    source="kaplan2020",
))

_add(Form(
    name="kaplan_c",
    title="Kaplan L(C): loss against training compute (C in FLOP here, not PF-days)",
    formula="(C_c / C)**alpha_C",
    latex=r"L(C) = \left(\frac{C_c}{C}\right)^{\alpha_C}",
    variables=("C",),
    params=(
        Param("C_c", 1e10, 1e40, log=True, start=(1e15, 1e18, 1e21, 1e24, 1e27, 1e30, 1e33)),
        Param("alpha_C", 1e-3, 2.0, start=_EXP),
    ),
    source="kaplan2020",
    note="C = 6ND is derived when the file has N and D but no compute column.",
))

_add(Form(
    name="compute_offset",
    title="Loss against training compute with an irreducible term",
    formula="E + A / C**alpha",
    latex=r"L(C) = E + \frac{A}{C^{\alpha}}",
    variables=("C",),
    params=(
        Param("E", 1e-4, 20.0, log=True, linear=True, unit="nats/token"),
        Param("A", 1e-8, 1e40, log=True, linear=True),
        Param("alpha", 1e-4, 3.0, start=_EXP_FINE),
    ),
))

_add(Form(
    name="params_offset",
    title="Loss against parameters with an irreducible term",
    formula="E + A / N**alpha",
    latex=r"L(N) = E + \frac{A}{N^{\alpha}}",
    variables=("N",),
    params=(
        Param("E", 1e-4, 20.0, log=True, linear=True, unit="nats/token"),
        Param("A", 1e-8, 1e30, log=True, linear=True, unit="nats/token * params^alpha"),
        Param("alpha", 1e-4, 3.0, start=_EXP_FINE),
    ),
))


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
