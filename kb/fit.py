"""Fitting a form (kb.forms) to a user's training runs: `kb fit`.

Method (Approach 3):
1. Start grid by variable projection: on a grid over the exponents (the form's nonlinear
   parameters) the linear amplitudes (E, A, B for Chinchilla) are solved exactly by a
   weighted linear least-squares (relative residuals, which approximate log residuals),
   all grid points at once. The true objective is then evaluated on every grid point.
2. The best few, mutually distant, grid points are polished together (one numpy batch) by a
   damped Newton method (Levenberg-Marquardt on the exact Hessian) over all free parameters,
   scale constants on a log scale (the LSE parametrisation of Hoffmann et al. eq 11).
   Gradients and Hessians are symbolic derivatives of the form, so convergence is to
   machine precision, and the reported gradient norm is honest.
3. Bootstrap: draws resample models (all rows of a model together, when a model column is
   present; otherwise each row is one model), and every draw is refitted from the full-data
   optimum, in batches.

Approach 2: a parabola in log N through the points around each IsoFLOP minimum, then a
power law through the minima. Known to be biased (see APPROACH2_NOTE).

numpy only at import; scipy is not needed.
"""

import csv
import hashlib
import io
import math
import warnings as _warnings
from pathlib import Path

import numpy as np

from . import forms as forms_mod
from . import units
from .errors import BadFile, KbError

HUBER_DELTA = 1e-3
ASYM_WEIGHT = 10.0  # asymmetric objective: over-predictions cost this much more (lower envelope)
OBJECTIVES = ("huber-log", "mse", "asym")
COMPUTE_PER_PARAM_TOKEN = 6.0

APPROACH2_NOTE = (
    "Approach 2 (IsoFLOP parabolas) is biased: loss is not a parabola in log N, so each "
    "vertex moves with the width, centring and asymmetry of the sampled sizes, and the "
    "exponent moves with how many points enter each parabola. Treat it as a cross-check of a "
    "parametric (Approach 3) fit, not as a replacement."
)

# column guesses: role -> normalised header names (lowercase, no spaces, '_' or '-')
GUESSES = {
    "N": ("n", "params", "parameters", "modelsize", "nparams", "numparams", "paramcount"),
    "D": ("d", "tokens", "data", "ntokens", "trainingtokens", "traintokens", "dp"),
    "C": ("c", "flops", "compute", "trainingflop", "trainingflops", "flop", "flopsbudget", "budget"),
    "loss": ("loss", "l", "finalloss", "valloss", "evalloss", "validationloss"),
    "score": ("score", "bleu", "comet", "f"),
    "U_D": ("ud", "uniquetokens", "unique", "uniquedata"),
}
MODEL_COLUMNS = ("model", "modelid", "run", "runid", "modelname")


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch not in " _-")


# ----------------------------------------------------------------------------- reading data


def read_csv(path) -> "dict[str, list[str]]":
    """A CSV file as {header: [cell, ...]}; BadFile for an unreadable or empty file."""
    path = Path(path)
    from .bounded import read_text  # bounded: /dev/zero or a 10 GB file is refused, not loaded

    text = read_text(path, what="CSV file")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise BadFile(f"{path}: cannot read as CSV: {exc}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise BadFile(f"{path}: the file is empty (expected a header row and data rows)")
    header = [h.strip() for h in rows[0]]
    if len(rows) == 1:
        raise BadFile(f"{path}: has a header but no data rows")
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise BadFile(f"{path}: line {i} has {len(r)} fields, the header has {len(header)}")
    return {h: [r[j] for r in rows[1:]] for j, h in enumerate(header)}


def _table(rows) -> "dict[str, list]":
    if isinstance(rows, dict):
        return {str(k): list(np.atleast_1d(np.asarray(v, dtype=object))) for k, v in rows.items()}
    rows = list(rows)
    if not rows:
        raise BadFile("no data rows")
    keys = list(rows[0])
    return {str(k): [r.get(k) for r in rows] for k in keys}


def _find_column(table, role, columns, where):
    if columns and role in columns:
        name = columns[role]
        if name not in table:
            raise BadFile(f"{where}: no column '{name}' (given for {role}); columns: {', '.join(table)}")
        return name
    if role in table:
        return role
    by_norm = {}
    for h in table:
        by_norm.setdefault(_norm(h), h)
    for guess in GUESSES.get(role, (_norm(role),)):
        if guess in by_norm:
            return by_norm[guess]
    return None


def _numbers(table, column, where, positive=True) -> np.ndarray:
    out = np.empty(len(table[column]), dtype=float)
    for i, cell in enumerate(table[column]):
        try:
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                raise KbError("empty")
            value, _unit = units.parse_number(cell if isinstance(cell, str) else float(cell), column)
        except (KbError, TypeError, ValueError):
            raise BadFile(f"{where}: row {i + 1}, column '{column}': cannot read {str(cell)[:30]!r} as a number") from None
        if positive and not value > 0:
            raise BadFile(f"{where}: row {i + 1}, column '{column}': {value:g} is not positive")
        out[i] = value
    return out


def resolve(rows, variables, target="loss", columns=None, where="data"):
    """Map a table to the roles a form needs. Returns (data {role: float array}, groups or
    None, mapping {role: column or 'C/(6N)'...})."""
    table = _table(rows)
    if not table or not any(table.values()):
        raise BadFile(f"{where}: no data rows")
    columns = dict(columns or {})
    data, mapping = {}, {}
    wanted = list(variables) + [target]
    if "X" in variables and "X" not in columns and "X" not in table:  # a one-column power law: which column?
        present = [r for r in ("N", "D", "C") if _find_column(table, r, columns, where)]
        if len(present) != 1:
            raise BadFile(f"{where}: a one-variable form needs its column named (columns={{'X': ...}}); "
                          f"found {', '.join(present) or 'none of N, D, C'}")
        columns["X"] = _find_column(table, present[0], columns, where)
    found = {r: _find_column(table, r, columns, where) for r in set(wanted) | {"N", "D", "C"}}
    for role in wanted:
        col = found.get(role)
        if col is not None:
            data[role] = _numbers(table, col, where, positive=True)
            mapping[role] = col
    # C = 6ND: derive a missing one of the three (float arithmetic: 6*N*D overflows int64)
    for role in ("N", "D", "C"):
        if role in wanted and role not in data:
            others = {r: found[r] for r in ("N", "D", "C") if r != role and found[r]}
            if len(others) == 2:
                vals = {r: _numbers(table, c, where) for r, c in others.items()}
                if role == "D":
                    data["D"] = vals["C"] / (COMPUTE_PER_PARAM_TOKEN * vals["N"])
                    mapping["D"] = f"{others['C']}/(6*{others['N']})"
                elif role == "N":
                    data["N"] = vals["C"] / (COMPUTE_PER_PARAM_TOKEN * vals["D"])
                    mapping["N"] = f"{others['C']}/(6*{others['D']})"
                else:
                    data["C"] = COMPUTE_PER_PARAM_TOKEN * vals["N"] * vals["D"]
                    mapping["C"] = f"6*{others['N']}*{others['D']}"
    missing = [r for r in wanted if r not in data]
    if missing:
        r = missing[0]
        looked = ", ".join(GUESSES.get(r, (r,)))
        extra = " (or two of N, D, C with C = 6ND)" if r in ("N", "D", "C") else ""
        raise BadFile(f"{where}: no column for {r}{extra}; looked for {looked}; columns: {', '.join(table)}")
    groups = None
    gcol = columns.get("model") or next((h for h in table if _norm(h) in MODEL_COLUMNS), None)
    if gcol is not None and gcol in table:
        _, groups = np.unique(np.asarray([str(v) for v in table[gcol]]), return_inverse=True)
        mapping["model"] = gcol
    return data, groups, mapping


def data_hash(data: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(data):
        h.update(key.encode() + b"\0")
        h.update(np.ascontiguousarray(data[key], dtype="<f8").tobytes())
    return "sha256:" + h.hexdigest()[:16]


# ----------------------------------------------------------------------------- the problem


class _Problem:
    """Objective, gradient and Hessian of one form on one data set, batched over parameter
    vectors (rows of theta) and weight vectors (bootstrap draws)."""

    def __init__(self, form, data, y, objective, fixed):
        if objective not in OBJECTIVES:
            raise KbError(f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}")
        self.form, self.objective = form, objective
        self.fixed = {k: float(v) for k, v in (fixed or {}).items()}
        unknown = set(self.fixed) - set(form.names)
        if unknown:
            raise KbError(f"cannot fix '{sorted(unknown)[0]}': form {form.name} has {', '.join(form.names)}")
        self.free = [p for p in form.params if p.name not in self.fixed]
        self.names = [p.name for p in self.free]
        self.islog = np.array([p.log for p in self.free])
        self.lo = np.array([math.log(p.lo) if p.log else p.lo for p in self.free])
        self.hi = np.array([math.log(p.hi) if p.log else p.hi for p in self.free])
        self.n = len(y)
        self.y = np.asarray(y, float)[None, :]
        self.logy = np.log(self.y)
        self.uselog = objective in ("huber-log", "asym")
        self.env0 = {k: np.asarray(v, float)[None, :] for k, v in data.items() if k in form.variables}
        self.env0.update(self.fixed)
        self.env0.update(forms_mod.helper_env())
        self.f = form.compiled()
        self._prog = None

    def program(self):
        if self._prog is None:
            self._prog = self.form.program(tuple(self.names), 2)
        return self._prog

    def natural(self, theta):
        theta = np.atleast_2d(theta)
        return np.where(self.islog, np.exp(np.minimum(theta, 700.0)), theta)

    def env(self, theta):
        nat = self.natural(theta)
        env = dict(self.env0)
        for k, name in enumerate(self.names):
            env[name] = nat[:, k:k + 1]
        return env, nat

    def _rho(self, r, order):
        d = HUBER_DELTA
        if self.objective == "mse":
            return r * r, 2 * r, np.full_like(r, 2.0)
        a = np.abs(r)
        inside = a <= d
        rho = np.where(inside, 0.5 * r * r, d * (a - 0.5 * d))
        d1 = np.clip(r, -d, d) if order else None
        d2 = inside.astype(float) if order > 1 else None
        if self.objective == "asym":
            c = np.where(r > 0, ASYM_WEIGHT, 1.0)
            rho = c * rho
            d1 = c * d1 if order else None
            d2 = c * d2 if order > 1 else None
        return rho, d1, d2

    def evaluate(self, theta, w, order=0):
        """objective (B,), and for order >= 1 gradient (B,p), for order 2 Hessian (B,p,p)."""
        theta = np.atleast_2d(theta)
        B, p = theta.shape
        env, nat = self.env(theta)
        if order:
            prog = self.program()
            env = prog.run(env)
            F = np.broadcast_to(env[prog.value], (B, self.n))
        else:
            F = np.broadcast_to(self.f(env), (B, self.n))
        with np.errstate(all="ignore"):
            bad = ~np.isfinite(F).all(axis=1)
            if self.uselog:
                bad |= (F <= 0).any(axis=1)
                r = np.log(np.where(F > 0, F, 1.0)) - self.logy
            else:
                r = F - self.y
        r = np.where(np.isfinite(r), r, 0.0)
        rho, d1rho, d2rho = self._rho(r, order)
        scale = 1.0 / w.sum(axis=1) if self.objective == "mse" else np.ones(w.shape[0])
        obj = (w * rho).sum(axis=1) * scale
        obj = np.where(bad, np.inf, obj)
        if order == 0:
            return obj
        s = np.where(self.islog, nat, 1.0)  # d p / d theta
        dF = np.empty((B, self.n, p))
        for k, name in enumerate(self.names):
            key = prog.d1[name]
            dF[:, :, k] = np.broadcast_to(env[key], (B, self.n)) * s[:, k:k + 1] if key else 0.0
        with np.errstate(all="ignore"):
            dr = dF / F[:, :, None] if self.uselog else dF
            dr = np.where(np.isfinite(dr), dr, 0.0)
            ws = w * scale[:, None]
            b = ws * d1rho
            grad = np.einsum("bn,bnk->bk", b, dr)
            if order < 2:
                return obj, grad, None
            a = ws * d2rho - (b if self.uselog else 0.0)
            H = np.einsum("bn,bnk,bnl->bkl", a, dr, dr)
            denom = F if self.uselog else 1.0
            for k, pk in enumerate(self.names):
                for l in range(k, p):
                    pl = self.names[l]
                    key = prog.d2[(pk, pl)]
                    term = (np.broadcast_to(env[key], (B, self.n)) * (s[:, k:k + 1] * s[:, l:l + 1])
                            if key else np.zeros((B, self.n)))
                    if k == l and self.islog[k]:
                        term = term + dF[:, :, k]
                    v = np.nansum(b * term / denom, axis=1)
                    H[:, k, l] += v
                    if l != k:
                        H[:, l, k] += v
        return obj, grad, H

    def projected(self, theta, grad):
        tol = 1e-9 * (self.hi - self.lo)
        at_lo = (theta <= self.lo + tol) & (grad > 0)
        at_hi = (theta >= self.hi - tol) & (grad < 0)
        return np.where(at_lo | at_hi, 0.0, grad), at_lo | at_hi

    # --------------------------------------------------------------- start grid (VarPro)

    def start_grid(self):
        """All grid points: theta (M,p) with linear amplitudes solved exactly, and the grid
        indices of the nonlinear parameters (for picking distant starts)."""
        nonlin = [p for p in self.free if not p.linear]
        lin = [p for p in self.free if p.linear]
        axes = []
        for p in nonlin:
            vals = p.start or ((math.exp(0.5 * (math.log(p.lo) + math.log(p.hi))),) if p.log
                               else (0.5 * (p.lo + p.hi),))
            axes.append(np.asarray(vals, float))
        if axes:
            mesh = np.meshgrid(*[np.arange(len(a)) for a in axes], indexing="ij")
            idx = np.stack([m.ravel() for m in mesh], axis=1)
        else:
            idx = np.zeros((1, 0), dtype=int)
        M = idx.shape[0]
        nat = np.empty((M, len(self.free)))
        for j, p in enumerate(nonlin):
            nat[:, self.names.index(p.name)] = axes[j][idx[:, j]]
        if lin:
            env = dict(self.env0)
            for j, p in enumerate(nonlin):
                env[p.name] = axes[j][idx[:, j]][:, None]
            zero = {p.name: 0.0 for p in lin}
            phi0 = np.broadcast_to(self.f({**env, **zero}), (M, self.n))
            X = np.empty((M, self.n, len(lin)))
            for k, p in enumerate(lin):
                X[:, :, k] = np.broadcast_to(self.f({**env, **zero, p.name: 1.0}), (M, self.n)) - phi0
            wt = 1.0 / self.y if self.uselog else np.ones_like(self.y)  # relative ~ log residuals
            t = (self.y - phi0) * wt
            Xw = X * wt[:, :, None]
            with np.errstate(all="ignore"):
                norms = np.sqrt((Xw * Xw).sum(axis=1))  # (M,K) column scaling
                norms = np.where(norms > 0, norms, 1.0)
                Xs = Xw / norms[:, None, :]
                A = np.einsum("mnk,mnl->mkl", Xs, Xs) + 1e-12 * np.eye(len(lin))
                rhs = np.einsum("mnk,mn->mk", Xs, t)
                ok = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(rhs).all(axis=1)
                A[~ok], rhs[~ok] = np.eye(len(lin)), 0.0
                c = np.linalg.solve(A, rhs[:, :, None])[:, :, 0] / norms
            for k, p in enumerate(lin):
                nat[:, self.names.index(p.name)] = np.clip(np.nan_to_num(c[:, k], nan=p.lo), p.lo, p.hi)
        theta = np.where(self.islog, np.log(np.maximum(nat, 1e-300)), nat)
        return np.clip(theta, self.lo, self.hi), idx


# ----------------------------------------------------------------------------- optimiser


def _newton(prob, theta0, w, maxiter=300):
    """Batched Levenberg-Marquardt on the exact Hessian with bounds (projected). Returns
    theta (B,p), objective (B,), projected gradient norm (B,), converged (B,)."""
    theta = np.clip(np.array(theta0, float), prob.lo, prob.hi)
    B, p = theta.shape
    w = np.broadcast_to(w, (B, prob.n)) if w.shape[0] == 1 else w
    f, g, H = prob.evaluate(theta, w, 2)
    lam = np.full(B, 1e-3)
    done = ~np.isfinite(f)
    stalled = np.zeros(B, bool)
    for _ in range(maxiter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        th, ga, Ha = theta[act], g[act], H[act]
        pg, fixed = prob.projected(th, ga)
        # freeze components held at a bound: unit rows in H, zero gradient
        Ha = np.where(fixed[:, :, None] | fixed[:, None, :], 0.0, Ha)
        Ha[:, np.arange(p), np.arange(p)] += fixed
        Ha = np.nan_to_num(Ha)
        ev, V = np.linalg.eigh(Ha)
        scale = np.maximum(np.abs(ev).max(axis=1), 1e-300)
        shifted = np.abs(ev) + lam[act, None] * scale[:, None]
        step = -np.einsum("bkj,bj->bk", V, np.einsum("bkj,bk->bj", V, pg) / shifted)
        trial = np.clip(th + step, prob.lo, prob.hi)
        ft = prob.evaluate(trial, w[act], 0)
        better = ft < f[act]
        # tiny or no improvement: converged when the (projected) gradient is negligible
        acc = act[better]
        if acc.size:
            theta[acc] = trial[better]
            fo = f[acc].copy()
            f[acc], g[acc], H[acc] = prob.evaluate(theta[acc], w[acc], 2)
            lam[acc] = np.maximum(lam[acc] / 5.0, 1e-12)
            small = (fo - f[acc]) <= 1e-14 * np.abs(fo) + 1e-300
            stalled[acc] = small
        rej = act[~better]
        lam[rej] *= 8.0
        done[rej[lam[rej] > 1e10]] = True
        done[acc[stalled[acc]]] = True
    pg, fixed = prob.projected(theta, g)
    gnorm = np.sqrt((pg * pg).sum(axis=1))
    # Newton decrement g' H^-1 g: the decrease still available. Along the flat A/B valley
    # of the Chinchilla form a gradient of 1e-8 can mean a decrease of 1e-18, below the
    # round-off of a sum of Huber terms; that point is converged.
    Hf = np.where(fixed[:, :, None] | fixed[:, None, :], 0.0, np.nan_to_num(H))
    Hf[:, np.arange(p), np.arange(p)] += fixed
    ev, V = np.linalg.eigh(Hf)
    proj = np.einsum("bkj,bk->bj", V, pg)
    with np.errstate(all="ignore"):
        dec = np.where((ev > 0).all(axis=1), (proj * proj / np.where(ev > 0, ev, 1.0)).sum(axis=1), np.inf)
    conv = (gnorm <= _gtol(f, prob)) | (dec <= 1e-11 * np.abs(f) + 1e-300)
    return theta, f, gnorm, conv & np.isfinite(f)


def _gtol(f, prob):
    # 1e-6 of the objective per unit change of a parameter on its search scale (O(1)), or
    # the round-off floor of a sum of n residual terms (reached by noise-free data)
    floor = 1e-13 * prob.n * (1.0 if prob.uselog else float(np.abs(prob.y).mean()) ** 2)
    return 1e-6 * np.abs(f) + floor


# ----------------------------------------------------------------------------- fitting


def fit_csv(path, form, columns=None, **kwargs) -> dict:
    form_obj = forms_mod.get(form)
    table = read_csv(path)
    result = fit(table, form_obj, columns=columns, where=str(path), **kwargs)
    result["file"] = Path(path).name
    return result


def fit(rows, form, objective="huber-log", bootstrap=0, seed=0, approach=3, progress=None,
        columns=None, fixed=None, budget=None, starts=8, group="auto", isoflop_points=5,
        where="data") -> dict:
    """Fit `form` (a name in kb.forms.FORMS or a Form) to rows (a {column: values} table or
    a list of dicts). Returns a JSON-able dict (see module docstring of kb.fit)."""
    form = forms_mod.get(form)
    if approach == 2:
        return _approach2(rows, form, bootstrap, seed, progress, columns, isoflop_points, where)
    if approach != 3:
        raise KbError(f"approach must be 2 (IsoFLOP parabolas) or 3 (parametric fit), not {approach}")
    if objective not in OBJECTIVES:
        raise KbError(f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}")
    data, groups, mapping = resolve(rows, form.variables, form.target, columns, where)
    y = data[form.target]
    n = len(y)
    nfree = len([p for p in form.params if p.name not in (fixed or {})])
    if n < nfree:
        raise BadFile(f"{where}: {n} data points cannot determine {nfree} parameters of form {form.name}")
    prob = _Problem(form, data, y, objective, fixed)
    warnings = []
    w1 = np.ones((1, n))

    # 1. start grid, with amplitudes solved exactly
    grid, gidx = prob.start_grid()
    gobj = prob.evaluate(grid, w1, 0)
    chosen = _pick_starts(gobj, gidx, starts)
    # 2. polish the chosen starts together
    theta, fval, gnorm, conv = _newton(prob, grid[chosen], w1)
    best = int(np.argmin(np.where(np.isfinite(fval), fval, np.inf)))
    fbest = fval[best]
    if not np.isfinite(fbest):
        raise KbError(f"form {form.name} could not be fitted to {where}: the objective is not finite "
                      "anywhere on the start grid")
    reached = int(np.sum(fval - fbest <= 1e-7 * abs(fbest) + 1e-14))
    th = theta[best]
    nat = prob.natural(th)[0]
    params = {p.name: float(nat[k]) for k, p in enumerate(prob.free)}
    params.update(prob.fixed)
    params = {p.name: params[p.name] for p in form.params}

    # derived quantities
    C_budget = float(budget) if budget is not None else _default_budget(data)
    derived_f = forms_mod.compile_derived(form)
    derived = _derived(derived_f, params, C_budget)

    # 3. bootstrap
    ci, boot_info, corr, corr_from = {}, None, {}, ""
    if bootstrap and bootstrap > 0:
        ci, boot_info, corr = _bootstrap(prob, th, groups, int(bootstrap), seed, progress, derived_f,
                                         C_budget, form)
        corr_from = "bootstrap draws (log scale for " + ", ".join(
            p.name for p in prob.free if p.log) + ")"
        if boot_info["converged"] < 0.9 * boot_info["draws"]:
            warnings.append(f"only {boot_info['converged']} of {boot_info['draws']} bootstrap refits converged")
    else:
        _, _, H = prob.evaluate(th[None, :], w1, 2)
        corr = _corr_from_cov(_safe_inv(H[0]), prob.names)
        corr_from = "inverse Hessian of the objective at the optimum (no bootstrap)"

    # warnings
    for k, p in enumerate(prob.free):
        span = prob.hi[k] - prob.lo[k]
        if th[k] <= prob.lo[k] + 1e-6 * span or th[k] >= prob.hi[k] - 1e-6 * span:
            warnings.append(f"{p.name} = {nat[k]:.4g} is at its bound [{p.lo:g}, {p.hi:g}]")
    for var in form.variables:
        scales = np.unique(np.round(np.log(data[var]), 2)).size  # values 1% apart count once
        if scales < 3:
            warnings.append(f"{var} has only {scales} distinct scale{'s' if scales != 1 else ''}; "
                            f"its exponent is not identified (need at least 3)")
    if not conv[best]:
        warnings.append(f"the best start did not converge (gradient norm {gnorm[best]:.2g})")
    if reached < 2 and len(chosen) > 1:
        warnings.append(f"only {reached} of {len(chosen)} starts reached the best objective; "
                        "other minima may exist")
    if n < 3 * nfree:
        warnings.append(f"{n} points for {nfree} parameters: the fit is weakly determined")
    if form.optimum:
        for sym, var in zip(form.optimum, ("N", "D")):
            v = derived.get(sym)
            if v is not None and var in data and not (data[var].min() <= v <= data[var].max()):
                warnings.append(f"{sym} at C = {C_budget:.3g} FLOP is {v:.3g}, outside the data's {var} range "
                                f"[{data[var].min():.3g}, {data[var].max():.3g}]: an extrapolation")

    result = {
        "form": form.name,
        "formula": form.formula,
        "objective": objective,
        "approach": 3,
        "params": params,
        "fixed": dict(prob.fixed),
        "ci": ci,
        "n_points": n,
        "objective_value": float(fbest),
        "starts": {"grid": int(len(grid)), "polished": int(len(chosen)), "reached_best": reached},
        "converged": bool(conv[best]),
        "grad_norm": float(gnorm[best]),
        "derived": {"budget": C_budget, **derived} if derived else {},
        "correlations": corr,
        "correlations_from": corr_from,
        "bootstrap": boot_info,
        "columns": mapping,
        "ranges": {v: [float(data[v].min()), float(data[v].max())] for v in form.variables},
        "warnings": warnings,
        "data_hash": data_hash({k: data[k] for k in (*form.variables, form.target)}),
    }
    return _clean(result)


def _default_budget(data):
    if "N" in data and "D" in data:
        return float(np.max(COMPUTE_PER_PARAM_TOKEN * data["N"] * data["D"]))
    return float("nan")


def _pick_starts(obj, idx, k):
    order = np.argsort(np.where(np.isfinite(obj), obj, np.inf), kind="stable")
    chosen = []
    for i in order:
        if not np.isfinite(obj[i]) and chosen:
            break
        if all(np.abs(idx[i] - idx[j]).max() >= 2 for j in chosen) or idx.shape[1] == 0:
            chosen.append(int(i))
        if len(chosen) >= k or idx.shape[1] == 0:
            break
    return np.array(chosen or [int(order[0])])


def _derived(derived_f, params, C):
    if not derived_f:
        return {}
    env = dict(params)
    env["C"] = C
    out = {}
    with np.errstate(all="ignore"):
        for name, f in derived_f:
            env[name] = f(env)
            out[name] = env[name]
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}


def _safe_inv(H):
    try:
        return np.linalg.pinv(H)
    except np.linalg.LinAlgError:
        return np.full_like(H, np.nan)


def _corr_from_cov(cov, names):
    with np.errstate(all="ignore"):
        d = np.sqrt(np.diag(cov))
        c = cov / np.outer(d, d)
    return {a: {b: float(c[i, j]) for j, b in enumerate(names)} for i, a in enumerate(names)}


def _bootstrap(prob, th, groups, draws, seed, progress, derived_f, C_budget, form):
    rng = np.random.default_rng(seed)
    n = prob.n
    if groups is None:
        groups = np.arange(n)
        resampled = "rows (each row one model)"
    else:
        resampled = "models (all rows of a model together)"
    ng = int(groups.max()) + 1
    thetas, ok = [], []
    chunk = 100
    done = 0
    if progress:
        progress(0, draws)
    while done < draws:
        m = min(chunk, draws - done)
        counts = rng.multinomial(ng, np.full(ng, 1.0 / ng), size=m)  # (m, ng)
        W = counts[:, groups].astype(float)
        t, f, gn, conv = _newton(prob, np.repeat(th[None, :], m, axis=0), W)
        thetas.append(t)
        ok.append(conv & np.isfinite(f))
        done += m
        if progress:
            progress(done, draws)
    T = np.concatenate(thetas)
    good = np.concatenate(ok)
    Tg = T[good]
    nat = prob.natural(Tg)
    ci = {}
    samples = {p: nat[:, k] for k, p in enumerate(prob.names)}
    for name, v in samples.items():
        ci[name] = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) else [None, None]
    if derived_f and len(Tg):
        env = dict(prob.fixed)
        env.update(samples)
        env["C"] = C_budget
        with np.errstate(all="ignore"):
            for name, f in derived_f:
                env[name] = np.broadcast_to(f(env), (len(Tg),))
                v = env[name][np.isfinite(env[name])]
                ci[name] = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) else [None, None]
    corr = {}
    if len(Tg) > 2:
        with np.errstate(all="ignore"):
            corr = _corr_from_cov(np.cov(Tg, rowvar=False), prob.names)
    se = {name: float(np.std(v, ddof=1)) if len(v) > 1 else None for name, v in samples.items()}
    info = {"draws": draws, "converged": int(good.sum()), "resampled": resampled, "seed": seed,
            "interval": "2.5-97.5 percentile", "se": se}
    return ci, info, corr


# ----------------------------------------------------------------------------- Approach 2


def _budgets(C, tol_decades=0.05):
    """Cluster compute values into budgets (digitised data is not exactly equal)."""
    lc = np.log10(C)
    order = np.argsort(lc)
    labels = np.empty(len(C), dtype=int)
    current, prev = 0, lc[order[0]]
    for i in order:  # a new budget wherever sorted values jump by more than the tolerance
        if lc[i] - prev > tol_decades:
            current += 1
        prev = lc[i]
        labels[i] = current
    return labels


def _isoflop_minima(logN, loss, labels, C, k, skipped=None):
    """Vertex of a parabola in log N per budget, through the k runs around the lowest loss.
    Budgets whose lowest loss is at the smallest or largest size are skipped (appended to
    `skipped`): their minimum is not bracketed."""
    skipped = [] if skipped is None else skipped
    minima = []
    for lab in np.unique(labels):
        sel = np.flatnonzero(labels == lab)
        if sel.size < 3:
            continue
        o = sel[np.argsort(logN[sel])]
        i = int(np.argmin(loss[o]))
        if i == 0 or i == o.size - 1:  # the minimum is not bracketed by the sampled sizes
            skipped.append(float(np.exp(np.mean(np.log(C[sel])))))
            continue
        half = k // 2
        lo = max(0, min(i - half, o.size - k))
        use = o[lo:lo + k]
        if use.size < 3:
            continue
        x, yv = logN[use], loss[use]
        xm = x.mean()
        with _warnings.catch_warnings():  # resampled budgets may repeat a run: still a fit
            _warnings.simplefilter("ignore")
            c2, c1, c0 = np.polyfit(x - xm, yv, 2)
        if not c2 > 0:
            continue
        xv = -c1 / (2 * c2)
        minima.append({"C": float(np.exp(np.mean(np.log(C[sel])))), "logN": float(xv + xm),
                       "loss": float(c0 - c1 * c1 / (4 * c2)), "points": int(use.size),
                       "inside": bool(x.min() <= xv + xm <= x.max()), "n_budget": int(sel.size)})
    return minima


def _line(minima):
    lc = np.log([m["C"] for m in minima])
    ln = np.array([m["logN"] for m in minima])
    a, logk = np.polyfit(lc, ln, 1)
    ld = lc - np.log(COMPUTE_PER_PARAM_TOKEN) - ln
    b, logkd = np.polyfit(lc, ld, 1)
    return a, math.exp(logk), b, math.exp(logkd)


def _approach2(rows, form, bootstrap, seed, progress, columns, k, where):
    data, groups, mapping = resolve(rows, ("N", "C"), "loss", columns, where)
    N, C, loss = data["N"], data["C"], data["loss"]
    labels = _budgets(C)
    logN = np.log(N)
    skipped = []
    minima = _isoflop_minima(logN, loss, labels, C, k, skipped)
    warnings = [APPROACH2_NOTE]
    for c in skipped:
        warnings.append(f"budget C = {c:.3g} skipped: its lowest loss is at the edge of the sampled sizes")
    if len(minima) < 2:
        raise BadFile(f"{where}: Approach 2 needs at least 2 IsoFLOP budgets with 3 or more runs each; "
                      f"found {len(minima)}")
    if len(minima) < 3:
        warnings.append("only 2 budgets: the exponent is a line through 2 points")
    for m in minima:
        if not m["inside"]:
            warnings.append(f"the parabola minimum at C = {m['C']:.3g} lies outside the sampled model sizes")
    a, kN, b, kD = _line(minima)
    ci = {}
    boot = None
    if bootstrap and bootstrap > 0:
        rng = np.random.default_rng(seed)
        samples = []
        by_budget = [np.flatnonzero(labels == lab) for lab in np.unique(labels)]
        for i in range(int(bootstrap)):
            pick = np.concatenate([rng.choice(s, s.size, replace=True) for s in by_budget])
            ms = _isoflop_minima(logN[pick], loss[pick], labels[pick], C[pick], k)
            if len(ms) >= 2:
                samples.append(_line(ms))
            if progress and ((i + 1) % 50 == 0 or i + 1 == bootstrap):
                progress(i + 1, int(bootstrap))
        S = np.array(samples)
        for j, name in enumerate(("a", "k_N", "b", "k_D")):
            if len(S):
                ci[name] = [float(np.percentile(S[:, j], 2.5)), float(np.percentile(S[:, j], 97.5))]
        boot = {"draws": int(bootstrap), "converged": len(samples), "resampled": "runs within each budget",
                "seed": seed, "interval": "2.5-97.5 percentile"}
    result = {
        "form": "isoflop_parabola",
        "formula": "k_N * C**a",
        "objective": "least squares (parabola per budget, then log-log line)",
        "approach": 2,
        "params": {"a": a, "k_N": kN, "b": b, "k_D": kD},
        "ci": ci,
        "n_points": int(len(loss)),
        "objective_value": None,
        "starts": {},
        "converged": True,
        "grad_norm": None,
        "derived": {"minima": [{"C": m["C"], "N": math.exp(m["logN"]),
                                "D": m["C"] / (COMPUTE_PER_PARAM_TOKEN * math.exp(m["logN"])),
                                "loss": m["loss"], "points": m["points"]} for m in minima]},
        "correlations": {},
        "bootstrap": boot,
        "columns": mapping,
        "ranges": {"C": [float(C.min()), float(C.max())], "N": [float(N.min()), float(N.max())]},
        "warnings": warnings,
        "note": APPROACH2_NOTE,
        "data_hash": data_hash({"N": N, "C": C, "loss": loss}),
    }
    return _clean(result)


# ----------------------------------------------------------------------------- output


def _clean(v):
    """JSON-able: numpy scalars to Python, NaN/inf to None."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_clean(x) for x in v.tolist()]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else None
    return v


def _num_text(v: float) -> str:
    return f"{v:.6g}" if v is not None else "0"


def to_law_document(result: dict, law_id: str, title: "str | None" = None) -> dict:
    """A law-file document (schema 1) for a fit, for `kb fit --save`; validated by
    kb.schema.load_document(doc, ..., origin="user")."""
    import datetime
    import re

    year = datetime.date.today().year
    if "." in law_id:
        bibkey, name = law_id.split(".", 1)
    else:
        bibkey, name = f"user{year}", law_id
    if not re.match(r"^[a-z][a-z0-9_-]*[0-9]{4}[a-z]?$", bibkey):
        raise KbError(f"law id '{law_id}': the part before the dot must look like a bibkey "
                      f"(lowercase, ending in a year), e.g. 'myruns{year}.{name}'")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise KbError(f"law id '{law_id}': '{name}' must be letters, digits and _")
    file = result.get("file") or "data"
    location = f"fit of {file} (data hash {result.get('data_hash')})"
    boot = result.get("bootstrap") or {}
    notes = [f"Objective: {result.get('objective')}; {result.get('n_points')} points; "
             f"objective value {result.get('objective_value')}; converged: {result.get('converged')}."]
    notes += [str(w) for w in result.get("warnings", [])]
    law = {"name": name, "title": title or f"Fit of {file}", "location": location,
           "tags": ["user-fit", result["form"]], "notes": notes}
    if result.get("approach") == 2:
        law.update(kind="allocation", formula="k_N * C**a", latex=r"N_{\mathrm{opt}} = k_N C^{a}",
                   predicts={"symbol": "N_opt", "quantity": "compute-optimal parameters", "unit": "params"},
                   outputs={"D_opt": {"formula": "k_D * C**b", "quantity": "compute-optimal training tokens",
                                      "unit": "tokens"}},
                   variables={"C": {"meaning": "training compute", "unit": "FLOP",
                                    "fitted": [_num_text(x) for x in result["ranges"]["C"]]}})
        units_of = {}
    else:
        form = forms_mod.get(result["form"])
        sym, quantity, unit = form.predicts
        meanings = {"N": ("parameters", "params"), "D": ("training tokens", "tokens"),
                    "C": ("training compute", "FLOP"), "U_D": ("unique training tokens", "tokens"),
                    "X": (result.get("columns", {}).get("X", "input"), "")}
        variables = {}
        for v in form.variables:
            meaning, u = meanings.get(v, (v, ""))
            rng = result.get("ranges", {}).get(v)
            variables[v] = {"meaning": meaning, "unit": u}
            if rng and None not in rng:
                variables[v]["fitted"] = [_num_text(x) for x in rng]
        law.update(kind=form.kind, formula=form.formula, latex=form.latex,
                   predicts={"symbol": sym, "quantity": quantity, "unit": unit}, variables=variables)
        if form.where:
            law["where"] = dict(form.where)
        units_of = {p.name: p.unit for p in form.params}
    constants = {}
    for pname, value in result["params"].items():
        c = {"value": _num_text(value), "location": location}
        if units_of.get(pname):
            c["unit"] = units_of[pname]
        if pname in result.get("fixed", {}):
            c["note"] = "held fixed in the fit"
        ci = result.get("ci", {}).get(pname)
        if ci and None not in ci:
            c["interval"] = [_num_text(ci[0]), _num_text(ci[1])]
            c["interval_note"] = (f"{boot.get('interval', '2.5-97.5 percentile')} of {boot.get('draws')} "
                                  f"bootstrap draws resampling {boot.get('resampled', 'models')}")
        constants[pname] = c
    law["constants"] = constants
    return {
        "schema": 1,
        "source": {"bibkey": bibkey, "short": title or name, "title": f"User fit: {law['title']}",
                   "authors": [], "year": year, "verified": False,
                   "notes": [f"Created by kb fit from {file}; data hash {result.get('data_hash')}."]},
        "law": [law],
    }
