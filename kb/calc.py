"""The calculator: evaluate a law, find compute-optimal allocations, answer inverse questions.

Everything is vectorised over numpy arrays. Inputs and outputs of the public functions are in
the user's units (parameters, tokens, FLOPs); `native_*` functions work in the law's own
units, as the paper prints them (Kaplan's PF-days), and are what `kb check` uses.
"""

import math
from dataclasses import dataclass, field
from functools import lru_cache, wraps

import numpy as np

from . import formula as formula_lang
from . import units
from .errors import BadNumber, KbError, MissingConstants, SolveError
from .schema import Law, Source


def quiet_numpy(fn):
    """Entry points compute with inf and NaN on purpose (bisections, grids) and check results
    themselves: numpy's RuntimeWarnings would only be noise on stderr."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapper

COMPUTE_PER_PARAM_TOKEN = 6.0  # C = 6ND: forward + backward FLOPs per parameter per token
# an allocation spending more than the budget by more than this is flagged: a paper's table
# prints N and D to 2-3 digits, so 6ND of a row may exceed the printed FLOPs by about 1% from
# rounding alone; more than that is a real overspend worth saying
OVER_BUDGET_TOLERANCE = 0.015


# ----------------------------------------------------------------------------- compiled laws


@dataclass
class Compiled:
    law: Law
    main: formula_lang.Formula
    where: "list[tuple[str, formula_lang.Formula]]"
    outputs: "list[tuple[str, formula_lang.Formula]]"
    constants: "dict[str, float]"

    def env(self, inputs: dict) -> dict:
        env = dict(self.constants)
        env.update(inputs)
        for name, f in self.where:
            env[name] = f(env)
        return env

    def __call__(self, **inputs):
        return self.main(self.env(inputs))


class Interpolated:
    """One column of a printed table as a function of its first column: straight lines in
    log-log between rows (a power law between neighbouring points), and outside the rows the
    end segments extended (the caller warns: extrapolated)."""

    def __init__(self, table, var: str, column: str):
        self.var, self.names, self.text = var, frozenset([var]), f"{column} from {table.location}"
        self._lx = np.log(np.array(table.column(var)))
        self._ly = np.log(np.array(table.column(column)))

    def __call__(self, env: dict):
        lx = np.log(np.asarray(env[self.var], dtype=float))
        i = np.clip(np.searchsorted(self._lx, lx) - 1, 0, len(self._lx) - 2)
        slope = (self._ly[i + 1] - self._ly[i]) / (self._lx[i + 1] - self._lx[i])
        return np.exp(self._ly[i] + slope * (lx - self._lx[i]))


def _compiled_table(law: Law) -> Compiled:
    var = law.variables[0].symbol
    return Compiled(law, Interpolated(law.table, var, law.predicts.symbol), [],
                    [(o.symbol, Interpolated(law.table, var, o.symbol)) for o in law.outputs],
                    {c.symbol: c.value for c in law.constants if not c.missing})


@lru_cache(maxsize=512)
def compiled(law: Law) -> Compiled:
    if law.table is not None:
        return _compiled_table(law)
    if law.kind == "qualitative" or not law.formula:
        raise KbError(f"{law.id} is a qualitative entry: it states claims, not a formula to evaluate")
    if law.missing_constants:
        raise MissingConstants(
            f"{law.id} cannot be evaluated: the paper's value of {', '.join(law.missing_constants)} is not "
            f"in the knowledge base ({law.constant(law.missing_constants[0]).location})")
    names = {c.symbol for c in law.constants} | {v.symbol for v in law.variables}
    where = []
    for name, text in law.where:
        where.append((name, formula_lang.parse(text, names)))
        names.add(name)
    return Compiled(
        law, formula_lang.parse(law.formula, names), where,
        [(o.symbol, formula_lang.parse(o.formula, names)) for o in law.outputs],
        {c.symbol: c.value for c in law.constants})


def constant_env(law: Law) -> dict:
    """Constants and the `where` names that depend on constants only (for checks)."""
    env = {c.symbol: c.value for c in law.constants if not c.missing}
    names = {c.symbol for c in law.constants} | {v.symbol for v in law.variables}
    for name, text in law.where:
        f = formula_lang.parse(text, names)
        names.add(name)
        if f.names <= set(env):
            env[name] = f(env)
    return env


def variable_of(law: Law, dim: str):
    """The law's variable of a dimension ('params', 'tokens', 'compute'), or None."""
    found = [v for v in law.variables if units.dimension(v.unit) == dim]
    return found[0] if len(found) == 1 else None


# ----------------------------------------------------------------------------- evaluate


@dataclass
class Result:
    law: str
    inputs: dict
    output: dict
    also: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def as_json(self) -> dict:
        out = {"law": self.law, "inputs": self.inputs, "output": self.output, "warnings": self.warnings}
        if self.also:
            out["also"] = self.also
        return out


def sweep(raw: dict, grid: bool = False) -> dict:
    """Inputs with lists (sweeps): lists of one length are paired element by element; `grid`
    takes every combination instead (the cross product, first name varying slowest)."""
    lists = {k: np.asarray(v, dtype=float) for k, v in raw.items() if isinstance(v, np.ndarray)}
    if not lists:
        return raw
    if grid:
        names = list(lists)
        mesh = np.meshgrid(*(lists[k] for k in names), indexing="ij")
        return {**raw, **{k: m.reshape(-1) for k, m in zip(names, mesh)}}
    lengths = {k: len(v) for k, v in lists.items()}
    if len(set(lengths.values())) > 1:
        given = " and ".join(f"{k} has {n} values" for k, n in lengths.items())
        raise KbError(f"{given}: give lists of equal length (paired element by element) or --grid for every combination")
    return raw


def parse_inputs(law: Law, raw: "dict[str, object]") -> "tuple[dict, dict]":
    """User inputs ({'N': '70B'}) -> (native arrays or floats, user-unit values for display)."""
    known = {v.symbol: v for v in law.variables}
    missing = [s for s in known if s not in raw]
    extra = [s for s in raw if s not in known]
    if extra:
        raise KbError(f"{law.id} has no variable '{extra[0]}'; its variables: {', '.join(known) or 'none'}")
    if missing:
        raise KbError(f"{law.id} needs {', '.join(missing)} ({'; '.join(str(known[s]) for s in missing)})")
    native, shown = {}, {}
    for sym, value in raw.items():
        var = known[sym]
        if isinstance(value, np.ndarray):
            arr = value.astype(float)
            if not np.all(np.isfinite(arr)):
                raise BadNumber(f"{sym} contains values that are not finite")
            given = None
        else:
            number, given = units.parse_number(value, what=sym)
            arr = number
        if units.dimension(var.unit) and np.any(np.asarray(arr) <= 0):
            raise BadNumber(f"{sym} must be positive ({var.meaning}); got {value}")
        native[sym] = units.to_native(arr, given, var.unit, sym)
        user_value = units.from_native(native[sym], var.unit)[0]
        shown[sym] = user_value if isinstance(user_value, np.ndarray) else float(user_value)
    return native, shown


def range_warnings(law: Law, native: dict) -> "list[str]":
    out = []
    for var in law.variables:
        if var.fitted is None or var.symbol not in native:
            continue
        value = np.asarray(native[var.symbol], dtype=float)
        lo, hi = var.fitted
        outside = (value < lo * (1 - 1e-9)) | (value > hi * (1 + 1e-9))
        if np.any(outside):
            where = f"{int(outside.sum())} of {value.size} values" if value.size > 1 else f"{value.reshape(-1)[0]:.4g}"
            if law.table is not None:
                out.append(f"{law.id}: {var.symbol} = {where} outside the rows of {law.table.location} "
                           f"[{lo:.3g}, {hi:.3g}] {var.unit}: extrapolated along the end rows' log-log slope")
                continue
            out.append(f"{law.id}: {var.symbol} = {where} outside the fitted range "
                       f"[{lo:.3g}, {hi:.3g}] {var.unit}: extrapolation")
    return out


def native_eval(law: Law, inputs: dict):
    """The main output and the extra outputs, in native units."""
    c = compiled(law)
    env = c.env(inputs)
    return c.main(env), {sym: f(env) for sym, f in c.outputs}


@quiet_numpy
def evaluate(law: Law, raw_inputs: dict) -> Result:
    native, shown = parse_inputs(law, raw_inputs)
    value, extra = native_eval(law, native)
    warns = range_warnings(law, native)
    value_user, unit = units.from_native(value, law.predicts.unit)
    also = []
    for out in law.outputs:
        v, u = units.from_native(extra[out.symbol], out.unit)
        also.append({"symbol": out.symbol, "value": _jsonable(v), "unit": u, "quantity": out.quantity})
    _require_finite(law, value_user, shown)
    return Result(law.id, {k: _jsonable(v) for k, v in shown.items()},
                  {"symbol": law.predicts.symbol, "value": _jsonable(value_user), "unit": unit,
                   "quantity": law.predicts.quantity}, also, warns)


def _require_finite(law: Law, value, shown: dict) -> None:
    """A result that is NaN, infinite or was complex is exit 2 naming the law and the inputs
    (of the first such point of a sweep), not a number or a null printed as if it were one."""
    values = np.asarray(value, dtype=float)
    bad = ~np.isfinite(values)
    if not np.any(bad):
        return
    i = int(np.flatnonzero(bad.reshape(-1))[0]) if values.ndim else 0
    at = ", ".join(f"{k}={np.asarray(v).reshape(-1)[i] if np.ndim(v) else v:.6g}" for k, v in shown.items())
    where = f" (point {i + 1} of {values.size})" if values.ndim else ""
    raise SolveError(f"{law.id}: no finite result at {at}{where}: the law overflows or is undefined there "
                     f"(e.g. a negative number to a fractional power)")


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return [None if not math.isfinite(x) else float(x) for x in v.tolist()]
    v = float(v)
    return v if math.isfinite(v) else None


# ----------------------------------------------------------------------------- optimum under C = 6ND


def nd_variables(law: Law):
    """The law's model-size and training-token variables (N, D), or (None, None). With several
    token variables (Muennighoff's D and unique tokens U), the one named D is the training data."""
    def pick(dim, name):
        found = [v for v in law.variables if units.dimension(v.unit) == dim]
        named = [v for v in found if v.symbol == name]
        return named[0] if named else (found[0] if len(found) == 1 else None)

    return pick("params", "N"), pick("tokens", "D")


def loss_over_ND(law: Law, fixed=()) -> bool:
    """A loss law of N and D, once the variables in `fixed` are held (e.g. unique tokens U)."""
    n_var, d_var = nd_variables(law)
    return (law.kind == "loss" and n_var is not None and d_var is not None
            and {v.symbol for v in law.variables} == {n_var.symbol, d_var.symbol, *fixed})


_GOLDEN = (math.sqrt(5) - 1) / 2


def native_optimum(law: Law, compute, iterations: int = 26, fixed: "dict | None" = None, polish: bool = True):
    """Minimise the loss law L(N, D) on C = 6ND for every budget (FLOPs; vectorised).

    Golden-section search over x = log N on [log 1, log(C/6)] (at least one parameter and one
    token): the loss along the budget line is unimodal in log N for every published form.
    26 iterations narrow a bracket of width <= 140 to ~5e-4; two parabolic (Newton) steps on
    central differences then reach ~1e-9 in x, i.e. N to ~1e-9 relative. That costs ~32 loss
    evaluations instead of the ~64 golden section alone would need for the same precision.
    Where the parabola does not converge (a kink from min/max in the law), those budgets are
    solved again by golden section alone (72 iterations).
    `fixed` holds the law's other variables (native units), e.g. Muennighoff's unique tokens U.
    Returns (N, D, L) in the law's native units."""
    fixed = dict(fixed or {})
    if not loss_over_ND(law, fixed):
        others = [v.symbol for v in law.variables if v.symbol not in ("N", "D", *fixed)]
        if others and law.kind == "loss" and all(nd_variables(law)):
            raise KbError(f"{law.id} also depends on {', '.join(others)}: give it (e.g. --given {others[0]}=...)")
        raise KbError(f"{law.id} is not a loss law of N and D, so it has no compute-optimal allocation of its own")
    c = compiled(law)
    n_var, d_var = nd_variables(law)
    n_f, d_f = units.UNITS[n_var.unit][1], units.UNITS[d_var.unit][1]
    budget = np.asarray(compute, dtype=float) / COMPUTE_PER_PARAM_TOKEN  # N * D in user units

    def loss(x):
        n = np.exp(x)
        return c.main(c.env({**fixed, n_var.symbol: n / n_f, d_var.symbol: budget / n / d_f}))

    lo = np.zeros_like(budget)
    hi = np.log(np.maximum(budget, 1.0))
    x1 = hi - _GOLDEN * (hi - lo)
    x2 = lo + _GOLDEN * (hi - lo)
    f1, f2 = loss(x1), loss(x2)
    for _ in range(iterations):
        left = f1 <= f2  # the minimum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        xn = np.where(left, hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo))
        fn = loss(xn)
        x1, x2 = np.where(left, xn, x2), np.where(left, x1, xn)
        f1, f2 = np.where(left, fn, f2), np.where(left, f1, fn)
    x = (lo + hi) / 2
    if polish:
        h, converged = 1e-4, np.ones_like(x, dtype=bool)
        for _ in range(2):  # parabolic steps, accepted only where the loss is convex and falls
            fm, f0, fp = loss(x - h), loss(x), loss(x + h)
            curvature = fp - 2 * f0 + fm
            convex = curvature > 0
            step = np.where(convex, -0.5 * h * (fp - fm) / np.where(convex, curvature, 1.0), 0.0)
            x_new = np.clip(x + step, lo, hi)
            accept = convex & (loss(x_new) <= f0 + 8 * np.finfo(float).eps * np.abs(f0))  # ties at rounding level
            x = np.where(accept, x_new, x)
            converged &= accept
        converged &= np.abs(step) < 1e-6  # the second step must be tiny on a smooth minimum
        if not converged.all():
            # kinks (min/max in the law) defeat the parabola: plain golden section there
            bad = ~converged
            sub = {k: (v[bad] if np.ndim(v) and np.shape(v) == budget.shape else v) for k, v in fixed.items()}
            n_sub, _, _ = native_optimum(law, np.asarray(compute, dtype=float)[bad], 72, sub, polish=False)
            x[bad] = np.log(n_sub * n_f)
    n = np.exp(x)
    d = budget / n
    return n / n_f, d / d_f, loss(x)


@dataclass
class Allocation:
    law: str  # what produced N and D
    method: str
    compute: np.ndarray
    N: np.ndarray
    D: np.ndarray
    loss: "np.ndarray | None"
    loss_law: str = ""
    warnings: list = field(default_factory=list)

    # the compute the law was evaluated at, when it is not the budget (Kaplan's C_min = C / 2)
    law_compute: "dict | None" = None  # {"symbol", "values" (FLOP), "relation", "location"}

    def as_json(self) -> dict:
        rows = []
        for i, c in enumerate(self.compute):
            n, d = float(self.N[i]), float(self.D[i])
            spent = COMPUTE_PER_PARAM_TOKEN * n * d  # what the allocation really costs, 6ND
            row = {
                "compute": float(c), "N": _jsonable(n), "D": _jsonable(d),
                "loss": None if self.loss is None else _jsonable(self.loss[i]),
                "tokens_per_param": _jsonable(d / n) if n > 0 else None,
                "flops_spent": _jsonable(spent), "spent_over_budget": _jsonable(spent / float(c)),
                "over_budget": bool(spent > float(c) * (1 + OVER_BUDGET_TOLERANCE))}
            if self.law_compute:
                row["law_compute"] = {"symbol": self.law_compute["symbol"],
                                      "value": _jsonable(self.law_compute["values"][i]), "unit": "FLOP"}
            rows.append(row)
        out = {"law": self.law, "method": self.method, "loss_law": self.loss_law or None,
               "results": rows, "warnings": self.warnings}
        if self.law_compute:
            out["law_compute"] = {k: v for k, v in self.law_compute.items() if k != "values"}
        return out


def parse_budgets(values) -> np.ndarray:
    budgets = []
    for v in values:
        number, unit = units.parse_number(v, what="compute")
        number = units.to_native(number, unit, "FLOP", "compute")
        if number <= 0:
            raise BadNumber(f"compute must be positive; got {v}")
        budgets.append(number)
    if not budgets:
        raise BadNumber("give at least one compute budget (--compute 1e23)")
    return np.array(budgets, dtype=float)


@quiet_numpy
def optimal(target: "Law | Source", compute, catalog, given: "dict | None" = None) -> Allocation:
    """Compute-optimal N and D (user units) at each budget (FLOPs) for a loss law, an
    allocation law, or a source (its headline allocation). `given`: the loss law's other
    variables held fixed, in user units (e.g. {"U": "100B"} unique tokens for Muennighoff)."""
    compute = np.atleast_1d(np.asarray(compute, dtype=float))
    if isinstance(target, Source):
        if given:
            raise KbError("--given applies to a law id, not to a source")
        return _source_optimal(target, compute, catalog)
    law = target
    if law.kind == "loss" and all(nd_variables(law)):
        return _loss_optimum(law, compute, _fixed_inputs(law, given or {}))
    if given:
        raise KbError(f"{law.id}: --given applies only to loss laws of N and D")
    if law.kind == "allocation" or (law.kind == "tabulated" and variable_of(law, "compute")):
        return _allocation_law(law, None, compute)
    raise KbError(f"{law.id} is a {law.kind} law; 'optimal' needs a loss law of N and D, an allocation law or a source")


def _fixed_inputs(law: Law, given: dict) -> dict:
    n_var, d_var = nd_variables(law)
    others = {v.symbol for v in law.variables} - {n_var.symbol, d_var.symbol}
    unknown = set(given) - others
    if unknown:
        raise KbError(f"{law.id}: '{sorted(unknown)[0]}' cannot be held fixed; its other variables: {', '.join(sorted(others)) or 'none'}")
    if not given:
        return {}
    sub = Law(**{**law.__dict__, "variables": tuple(v for v in law.variables if v.symbol in given)})
    return parse_inputs(sub, given)[0]


def _loss_optimum(law: Law, compute, fixed: dict) -> Allocation:
    """The numeric optimum of a loss law as an Allocation in user units, with range warnings."""
    n, d, loss = native_optimum(law, compute, fixed=fixed)
    n_var, d_var = nd_variables(law)
    n_u, d_u = units.from_native(n, n_var.unit)[0], units.from_native(d, d_var.unit)[0]
    held = "".join(f", {k} = {units.from_native(v, law.variable(k).unit)[0]:.4g} held fixed" for k, v in fixed.items())
    alloc = Allocation(law.id, f"numeric minimum of the loss on C = 6ND{held}", compute, n_u, d_u, loss, law.id)
    alloc.warnings += range_warnings(law, {n_var.symbol: n, d_var.symbol: d, **fixed})
    return alloc


def _compute_inputs(law: Law, compute) -> "tuple[dict, list]":
    var = variable_of(law, "compute")
    if var is None or len(law.variables) != 1:
        raise KbError(f"{law.id} is not a function of compute alone")
    native = {var.symbol: units.to_native(law_compute(law, compute), None, var.unit, var.symbol)}
    return native, range_warnings(law, native)


def law_compute(law: Law, compute):
    """The FLOPs the law's compute variable takes for a training budget C (FLOPs spent)."""
    if law.budget is None:
        return compute
    return formula_lang.parse(law.budget.formula, {"C"})({"C": np.asarray(compute, dtype=float)}) * np.ones_like(compute)


def _allocation_law(n_law: Law, d_law: "Law | None", compute) -> Allocation:
    native, warns = _compute_inputs(n_law, compute)
    n_native, extra = native_eval(n_law, native)
    n = units.from_native(n_native, n_law.predicts.unit)[0] * np.ones_like(compute)
    if d_law is not None:
        d_native_in, more = _compute_inputs(d_law, compute)
        warns += more
        d = units.from_native(native_eval(d_law, d_native_in)[0], d_law.predicts.unit)[0] * np.ones_like(compute)
        method = f"allocation laws {n_law.id} and {d_law.id} evaluated directly"
    elif "D_opt" in extra:
        out = next(o for o in n_law.outputs if o.symbol == "D_opt")
        d = units.from_native(extra["D_opt"], out.unit)[0] * np.ones_like(compute)
        method = f"allocation law {n_law.id} evaluated directly"
    else:
        d = compute / (COMPUTE_PER_PARAM_TOKEN * n)
        method = f"allocation law {n_law.id}, D = C / (6 N)"
        warns.append(f"{n_law.id} gives N only; D derived from C = 6ND")
    if n_law.table is not None:
        method = f"{n_law.table.location} interpolated log-log between its rows"
    alloc = Allocation(n_law.id if d_law is None else f"{n_law.id} + {d_law.id}", method, compute, n, d, None, "", warns)
    if n_law.budget is not None:
        var = variable_of(n_law, "compute")
        b = n_law.budget
        alloc.law_compute = {"symbol": var.symbol, "values": law_compute(n_law, compute),
                             "relation": f"{var.symbol} = {b.formula}", "location": b.location,
                             "note": b.note or None}
        alloc.method += f"; evaluated at {var.symbol} = {b.formula} ({b.location})"
    return alloc


def _source_optimal(source: Source, compute, catalog) -> Allocation:
    alloc = source.headline_allocation
    if "law" in alloc:
        result = optimal(catalog.law(alloc["law"]), compute, catalog)
    elif "N" in alloc:
        result = _allocation_law(catalog.law(alloc["N"]), catalog.law(alloc["D"]) if "D" in alloc else None, compute)
    elif source.headline_loss:
        result = optimal(catalog.law(source.headline_loss), compute, catalog)
    else:
        raise KbError(f"{source.bibkey} names no headline allocation or loss law; pick one of its laws")
    result = with_headline_loss(result, source, catalog)
    result.method = f"{result.method} (headline allocation of {source.bibkey})"
    result.law = source.bibkey
    return result


def with_headline_loss(result: Allocation, source: Source, catalog) -> Allocation:
    """An allocation law gives N and D only: its loss is the source's headline loss law there."""
    if result.loss is None and source.headline_loss:
        loss_law = catalog.law(source.headline_loss)
        if loss_over_ND(loss_law):
            n_var, d_var = nd_variables(loss_law)
            native = {n_var.symbol: units.to_native(result.N, None, n_var.unit, "N"),
                      d_var.symbol: units.to_native(result.D, None, d_var.unit, "D")}
            result.loss = native_eval(loss_law, native)[0]
            result.loss_law = loss_law.id
            result.warnings += range_warnings(loss_law, native)
    return result


# ----------------------------------------------------------------------------- inverse


@quiet_numpy
def inverse(law: Law, target: str, given: dict, solve_for: "str | None" = None) -> dict:
    """What input reaches `target` (a value of the law's output)? With a loss law of N and D
    and nothing given, the answer is the compute whose optimal allocation reaches the loss."""
    value, unit = units.parse_number(target, what="target")
    target_native = units.to_native(value, unit, law.predicts.unit or None, "target") if law.predicts.unit in units.UNITS else value
    if loss_over_ND(law) and not given and solve_for in (None, "C"):
        return _compute_for_loss(law, target_native)
    free = [v for v in law.variables if v.symbol not in given]
    if solve_for:
        if solve_for not in {v.symbol for v in law.variables}:
            raise KbError(f"{law.id} has no variable '{solve_for}'; its variables: {', '.join(v.symbol for v in law.variables)}")
        free = [v for v in free if v.symbol == solve_for]
    if len(free) != 1:
        raise KbError(f"{law.id}: give all variables but one (free now: {', '.join(v.symbol for v in free) or 'none'})")
    var = free[0]
    native_given, shown = parse_inputs(law, {**given, var.symbol: 1.0}) if given else ({}, {})
    native_given.pop(var.symbol, None)
    shown.pop(var.symbol, None)
    c = compiled(law)

    def f(x):
        return c(**native_given, **{var.symbol: np.exp(x)}) - target_native

    x = _bisect(f, -50.0, 120.0, f"{law.id}: no {var.symbol} in [e^-50, e^120] {var.unit} reaches {law.predicts.symbol} = {target}")
    answer = units.from_native(math.exp(x), var.unit)
    warns = range_warnings(law, {**native_given, var.symbol: math.exp(x)})
    return {"law": law.id, "target": {"symbol": law.predicts.symbol, "value": value, "unit": law.predicts.unit},
            "given": shown, "solved": {"symbol": var.symbol, "value": answer[0], "unit": answer[1]}, "warnings": warns}


def _compute_for_loss(law: Law, target: float) -> dict:
    def f(log_c):
        return native_optimum(law, np.array([math.exp(log_c)]))[2][0] - target

    x = _bisect(f, math.log(1e6), math.log(1e40),
                f"{law.id}: no compute up to 1e40 FLOP reaches loss {target:g} on the optimal frontier")
    compute = math.exp(x)
    alloc = _loss_optimum(law, np.array([compute]), {})
    row, warns = alloc.as_json()["results"][0], alloc.warnings
    return {"law": law.id, "target": {"symbol": law.predicts.symbol, "value": target, "unit": law.predicts.unit},
            "given": {}, "solved": {"symbol": "C", "value": compute, "unit": "FLOP"}, "optimum": row, "warnings": warns}


def _bisect(f, lo: float, hi: float, fail: str, iterations: int = 200) -> float:
    f_lo, f_hi = f(lo), f(hi)
    if not (np.isfinite(f_lo) or np.isfinite(f_hi)) or np.sign(f_lo) == np.sign(f_hi):
        raise SolveError(fail)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        f_mid = f(mid)
        if np.sign(f_mid) == np.sign(f_lo):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return (lo + hi) / 2


# ----------------------------------------------------------------------------- inference-aware optimum


@quiet_numpy
def inference_optimal(law: Law, target_loss: float, inference_tokens: float) -> dict:
    """Sardana et al.'s question for any loss law L(N, D): the model that reaches `target_loss`
    with the least training + inference compute, 6 N D_train + 2 N D_inference (FLOPs),
    against the training-only compute optimum that reaches the same loss."""
    if not loss_over_ND(law):
        raise KbError(f"{law.id} is not a loss law of N and D")
    if not (math.isfinite(target_loss) and math.isfinite(inference_tokens)) or inference_tokens < 0:
        raise BadNumber("target loss and inference tokens must be finite, inference tokens >= 0")
    c = compiled(law)
    n_var, d_var = nd_variables(law)
    n_f, d_f = units.UNITS[n_var.unit][1], units.UNITS[d_var.unit][1]

    def tokens_needed(log_n):
        """D_train reaching the target for each N (vectorised bisection in log D; inf if none)."""
        n = np.exp(log_n)
        lo, hi = np.zeros_like(n), np.full_like(n, 150.0)

        def loss(log_d):
            return c.main(c.env({n_var.symbol: n / n_f, d_var.symbol: np.exp(log_d) / d_f}))

        reachable = loss(hi) < target_loss
        for _ in range(80):
            mid = (lo + hi) / 2
            above = loss(mid) > target_loss
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        return np.where(reachable, np.exp(hi), np.inf), n

    def total(log_n):
        d, n = tokens_needed(log_n)
        return 6 * n * d + 2 * n * inference_tokens, n, d

    grid = np.linspace(0.0, 80.0, 1601)  # N from 1 to e^80 parameters, log-spaced
    cost, _, _ = total(grid)
    if not np.any(np.isfinite(cost)):
        if np.any(np.isfinite(total(grid)[2])):  # some N reaches the loss: the inference term overflows
            raise BadNumber(f"{law.id}: inference tokens {inference_tokens:g} make the compute overflow")
        raise SolveError(f"{law.id}: no model size reaches loss {target_loss:g}")
    i = int(np.argmin(cost))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    for _ in range(60):  # golden section inside the best grid cell's neighbourhood
        a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
        if total(np.array([a]))[0][0] <= total(np.array([b]))[0][0]:
            hi = b
        else:
            lo = a
    best, n, d = total(np.array([(lo + hi) / 2]))
    reference = _compute_for_loss(law, target_loss)["optimum"]
    ref_total = 6 * reference["N"] * reference["D"] + 2 * reference["N"] * inference_tokens
    return {
        "law": law.id, "target_loss": target_loss, "inference_tokens": inference_tokens,
        "optimum": {"N": float(n[0]), "D_train": float(d[0]), "train_flops": float(6 * n[0] * d[0]),
                    "total_flops": float(best[0])},
        "compute_optimal_reference": {"N": reference["N"], "D_train": reference["D"],
                                      "total_flops": ref_total},
        "saving": (ref_total - float(best[0])) / ref_total,
        "warnings": range_warnings(law, {n_var.symbol: n / n_f, d_var.symbol: d / d_f}),
    }
