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

Rows may carry weights (a `weight` column, or weights=): the objective is the weighted sum.
Memory is O(rows): objective, gradient, Hessian and the amplitudes' normal equations are
sums over row blocks of CHUNK elements; above GRID_ROWS rows the grid ranks starts on a fixed
subsample and the optimum is carried through nested subsamples (x16) to all rows, so 10^6
rows cost a few full-data Newton steps. Ties, bounds and start grids make a variant of the
form (kb.forms.variant), so the same machinery fits Gadre's alpha = beta.

Approach 2: a parabola in log N through the points around each IsoFLOP minimum, then a
power law through the minima. Known to be biased (see APPROACH2_NOTE).

numpy only at import; scipy is not needed.
"""

import csv
import hashlib
import io
import math
import sys
import types
import warnings as _warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import forms as forms_mod
from . import units
from .errors import BadFile, KbError

HUBER_DELTA = 1e-3
ASYM_WEIGHT = 10.0  # asymmetric objective: over-predictions cost this much more (lower envelope)
OBJECTIVES = ("huber-log", "mse", "asym")
OBJECTIVE_NAMES = {
    "huber-log": f"sum of Huber(delta={HUBER_DELTA:g}) of log residuals (Hoffmann et al.)",
    "mse": "mean squared error of the loss",
    "asym": f"sum of Huber(delta={HUBER_DELTA:g}) of log residuals, over-predictions weighted {ASYM_WEIGHT:g}x",
}
FLAT_RATIO = 1e-8  # eigenvalue / largest eigenvalue of the scaled Hessian below which a direction is flat
HIGH_CORRELATION = 0.99
COMPUTE_PER_PARAM_TOKEN = 6.0
# elements (parameter vectors x rows) evaluated at once: bounds memory whatever the rows
CHUNK = 1 << 17
GRID_ROWS = 2_048  # above this many rows the start grid is ranked on a fixed subsample
FULL_POLISH = 2  # subsample optima then polished on all rows
STAGE_FTOL = 1e-9  # a subsample's optimum is only a start: no need to polish it to round-off

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
WEIGHT_COLUMNS = ("weight", "weights")


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch not in " _-")


# ----------------------------------------------------------------------------- reading data


def read_csv(path) -> "dict[str, list[str]]":
    """A CSV file as {header: [cell, ...]}; BadFile for an unreadable or empty file.
    Rows are streamed into the columns (no list of row lists: memory ~ the cells)."""
    path = Path(path)
    from .bounded import open_text  # bounded: /dev/zero or a 10 GB file stops at the limit

    header, cols, line = None, None, 0
    try:
        with open_text(path, what="CSV file", encoding="utf-8-sig") as fh:
            for line, r in enumerate(csv.reader(fh), start=1):
                if not any(cell.strip() for cell in r):
                    continue
                if header is None:
                    header = [h.strip() for h in r]
                    cols = [[] for _ in header]
                    continue
                if len(r) != len(header):
                    raise BadFile(f"{path}: line {line} has {len(r)} fields, the header has {len(header)}")
                for c, cell in zip(cols, r):
                    c.append(cell)
    except FileNotFoundError:
        raise BadFile(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadFile(f"{path}: cannot read as CSV: {exc}") from None
    if header is None:
        raise BadFile(f"{path}: the file is empty (expected a header row and data rows)")
    if not cols[0]:
        raise BadFile(f"{path}: has a header but no data rows")
    return dict(zip(header, cols))


def _column(v, name):
    a = np.asarray(v)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise KbError(f"data column '{name}' must be one-dimensional, got shape {a.shape}")
    return a if a.dtype.kind in "biuf" else list(a.astype(object))  # numbers stay an array


def _table(rows) -> "dict[str, list]":
    """A {column: values} table from a mapping of columns, a pandas DataFrame (duck-typed:
    pandas is not a dependency) or a list of row dicts."""
    if hasattr(rows, "columns") and hasattr(rows, "to_numpy") and not isinstance(rows, dict):
        return {str(k): _column(rows[k].to_numpy(), k) for k in rows.columns}
    if isinstance(rows, Mapping):
        return {str(k): _column(v, k) for k, v in rows.items()}
    if isinstance(rows, (str, bytes, Path)) or not isinstance(rows, (list, tuple)):
        raise KbError(f"data must be a CSV path, a mapping of column -> values, a pandas DataFrame or a "
                      f"list of row dicts, not {type(rows).__name__}")
    rows = list(rows)
    if not rows:
        raise BadFile("no data rows")
    if not all(isinstance(r, Mapping) for r in rows):
        raise KbError("a list of rows must hold dicts (column -> value)")
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
    cells = table[column]
    out = None
    try:  # fast path: plain decimal numbers, parsed by numpy in C
        out = np.asarray(cells, dtype=float)
        if out.ndim != 1 or not np.isfinite(out).all():
            out = None
    except (TypeError, ValueError):
        out = None
    if out is None:  # suffixes ('70B'), units, or something to report by row
        out = np.empty(len(cells), dtype=float)
        for i, cell in enumerate(cells):
            try:
                if cell is None or (isinstance(cell, str) and not cell.strip()):
                    raise KbError("empty")
                value, _unit = units.parse_number(cell if isinstance(cell, str) else float(cell), column)
            except (KbError, TypeError, ValueError):
                raise BadFile(f"{where}: row {i + 1}, column '{column}': cannot read {str(cell)[:30]!r} as a number") from None
            out[i] = value
    if positive and not (out > 0).all():
        i = int(np.flatnonzero(~(out > 0))[0])
        raise BadFile(f"{where}: row {i + 1}, column '{column}': {out[i]:g} is not positive")
    return out


def resolve(rows, variables, target="loss", columns=None, where="data"):
    """Map a table to the roles a form needs. Returns (data {role: float array}, groups or
    None, mapping {role: column or 'C/(6N)'...})."""
    table = _table(rows)
    if not table or all(len(v) == 0 for v in table.values()):
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
    wcol = columns.get("weight") or next((h for h in table if _norm(h) in WEIGHT_COLUMNS), None)
    if wcol is not None:
        if wcol not in table:
            raise BadFile(f"{where}: no column '{wcol}' (given for the weights); columns: {', '.join(table)}")
        data["weight"] = _weights(_numbers(table, wcol, where, positive=False), f"{where}: column '{wcol}'")
        mapping["weight"] = wcol
    return data, groups, mapping


def _weights(w, what) -> np.ndarray:
    w = np.asarray(w, float).ravel()
    if not np.isfinite(w).all() or (w < 0).any():
        raise BadFile(f"{what}: weights must be finite and >= 0")
    if not (w > 0).any():
        raise BadFile(f"{what}: every weight is 0")
    return w


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

    def __init__(self, form, data, y, objective, fixed, weights=None):
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
        self.w = np.ones((1, self.n)) if weights is None else np.asarray(weights, float).reshape(1, self.n)
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
        """objective (B,), and for order >= 1 gradient (B,p), for order 2 Hessian (B,p,p).
        Sums over row blocks of about CHUNK elements (B x rows), so memory is O(B * CHUNK)
        whatever the number of rows: the objective and its derivatives are sums over rows."""
        theta = np.atleast_2d(theta)
        B, p = theta.shape
        w = np.asarray(w, float)
        scale = 1.0 / w.sum(axis=1) if self.objective == "mse" else np.ones(w.shape[0])
        scale = np.broadcast_to(scale, (B,))
        env, nat = self.env(theta)
        rows = max(1, CHUNK // B)
        obj = np.zeros(B)
        bad = np.zeros(B, bool)
        grad = np.zeros((B, p)) if order else None
        H = np.zeros((B, p, p)) if order > 1 else None
        for lo in range(0, self.n, rows):
            sl = slice(lo, min(lo + rows, self.n))
            part = self._block(env, nat, sl, w[:, sl], scale, order, B, p)
            obj += part[0]
            bad |= part[1]
            if order:
                grad += part[2]
            if order > 1:
                H += part[3]
        obj = np.where(bad, np.inf, obj)
        if order == 0:
            return obj
        return obj, grad, H

    def objective_of(self, F, w):
        """The objective of predictions F (B, n) on all rows (order 0 of evaluate)."""
        scale = 1.0 / w.sum(axis=1) if self.objective == "mse" else 1.0
        with np.errstate(all="ignore"):
            bad = ~np.isfinite(F).all(axis=1)
            if self.uselog:
                bad |= (F <= 0).any(axis=1)
                r = np.log(np.where(F > 0, F, 1.0)) - self.logy
            else:
                r = F - self.y
        r = np.where(np.isfinite(r), r, 0.0)
        return np.where(bad, np.inf, (w * self._rho(r, 0)[0]).sum(axis=1) * scale)

    def _block(self, env, nat, sl, w, scale, order, B, p):
        env = {k: (v[:, sl] if isinstance(v, np.ndarray) and v.ndim == 2 and v.shape[1] == self.n else v)
               for k, v in env.items()}
        n = sl.stop - sl.start
        y, logy = self.y[:, sl], self.logy[:, sl]
        if order:
            prog = self.program()
            env = prog.run(env)
            F = np.broadcast_to(env[prog.value], (B, n))
        else:
            F = np.broadcast_to(self.f(env), (B, n))
        with np.errstate(all="ignore"):
            bad = ~np.isfinite(F).all(axis=1)
            if self.uselog:
                bad |= (F <= 0).any(axis=1)
                r = np.log(np.where(F > 0, F, 1.0)) - logy
            else:
                r = F - y
        r = np.where(np.isfinite(r), r, 0.0)
        rho, d1rho, d2rho = self._rho(r, order)
        obj = (w * rho).sum(axis=1) * scale
        if order == 0:
            return obj, bad
        s = np.where(self.islog, nat, 1.0)  # d p / d theta
        dF = np.empty((B, n, p))
        for k, name in enumerate(self.names):
            key = prog.d1[name]
            dF[:, :, k] = np.broadcast_to(env[key], (B, n)) * s[:, k:k + 1] if key else 0.0
        with np.errstate(all="ignore"):
            dr = dF / F[:, :, None] if self.uselog else dF
            dr = np.where(np.isfinite(dr), dr, 0.0)
            ws = w * scale[:, None]
            b = ws * d1rho
            grad = np.matmul(b[:, None, :], dr)[:, 0, :]
            if order < 2:
                return obj, bad, grad, None
            a = ws * d2rho - (b if self.uselog else 0.0)
            H = np.matmul((a[:, :, None] * dr).transpose(0, 2, 1), dr)  # batched BLAS, not einsum
            denom = F if self.uselog else 1.0
            for k, pk in enumerate(self.names):
                for l in range(k, p):
                    pl = self.names[l]
                    key = prog.d2[(pk, pl)]
                    term = (np.broadcast_to(env[key], (B, n)) * (s[:, k:k + 1] * s[:, l:l + 1])
                            if key else np.zeros((B, n)))
                    if k == l and self.islog[k]:
                        term = term + dF[:, :, k]
                    v = np.nansum(b * term / denom, axis=1)
                    H[:, k, l] += v
                    if l != k:
                        H[:, l, k] += v
        return obj, bad, grad, H

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
            # normal equations X'WX c = X'Wt accumulated over blocks of grid points x rows
            K = len(lin)
            G = np.zeros((M, K, K))
            rhs = np.zeros((M, K))
            zero = {p.name: 0.0 for p in lin}
            cprog = self.form.program(tuple(p.name for p in lin), 1)
            # small problems: keep the columns, and get each grid point's objective from them
            # (F = phi0 + X c: no second evaluation of the form over the whole grid)
            keep_blocks = M * self.n * (K + 1) <= 8 * CHUNK
            blocks = []
            rows = min(self.n, CHUNK)
            gm = max(1, CHUNK // rows)
            for m0 in range(0, M, gm):
                ms = slice(m0, min(m0 + gm, M))
                for r0 in range(0, self.n, rows):
                    rs = slice(r0, min(r0 + rows, self.n))
                    env = {k: (v[:, rs] if isinstance(v, np.ndarray) else v) for k, v in self.env0.items()}
                    for j, p in enumerate(nonlin):
                        env[p.name] = axes[j][idx[ms, j]][:, None]
                    y = self.y[:, rs]
                    shape = (ms.stop - ms.start, rs.stop - rs.start)
                    # value and columns d F / d c in one run (the model is linear in them, so
                    # the columns do not depend on c): shared powers are computed once
                    out = cprog.run({**env, **zero})
                    phi0 = np.broadcast_to(out[cprog.value], shape)
                    X = [np.broadcast_to(out[cprog.d1[p.name]], shape) if cprog.d1[p.name] else np.zeros(shape)
                         for p in lin]
                    if keep_blocks:
                        blocks.append((ms, phi0, X))
                    wt = (1.0 / y if self.uselog else np.ones_like(y)) * np.sqrt(self.w[:, rs])  # relative ~ log residuals
                    with np.errstate(all="ignore"):
                        Xw = [x * wt for x in X]  # K separate (m, n) arrays: contiguous row sums
                        t = (y - phi0) * wt
                        for k in range(K):
                            rhs[ms, k] += np.einsum("mn,mn->m", Xw[k], t)
                            for l in range(k, K):
                                G[ms, k, l] += np.einsum("mn,mn->m", Xw[k], Xw[l])
                                G[ms, l, k] = G[ms, k, l]
            with np.errstate(all="ignore"):
                norms = np.sqrt(np.einsum("mkk->mk", G))  # (M,K) column scaling
                norms = np.where(np.isfinite(norms) & (norms > 0), norms, 1.0)
                A = G / (norms[:, :, None] * norms[:, None, :]) + 1e-12 * np.eye(K)
                rs_ = rhs / norms
                ok = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(rs_).all(axis=1)
                A[~ok], rs_[~ok] = np.eye(K), 0.0
                c = np.linalg.solve(A, rs_[:, :, None])[:, :, 0] / norms
            for k, p in enumerate(lin):
                nat[:, self.names.index(p.name)] = np.clip(np.nan_to_num(c[:, k], nan=p.lo), p.lo, p.hi)
        theta = np.where(self.islog, np.log(np.maximum(nat, 1e-300)), nat)
        theta = np.clip(theta, self.lo, self.hi)
        if not lin or not keep_blocks:
            return theta, idx, self.evaluate(theta, self.w, 0)
        cn = self.natural(theta)[:, [self.names.index(p.name) for p in lin]]
        obj = np.empty(M)
        for ms, phi0, X in blocks:
            F = phi0 + sum(x * cn[ms, k:k + 1] for k, x in enumerate(X))
            obj[ms] = self.objective_of(F, self.w)
        return theta, idx, obj


# ----------------------------------------------------------------------------- optimiser


def _newton(prob, theta0, w, maxiter=300, ftol=1e-14, lam0=1e-5):
    """Batched Levenberg-Marquardt on the exact Hessian with bounds (projected). Returns
    theta (B,p), objective (B,), projected gradient norm (B,), converged (B,)."""
    theta = np.clip(np.array(theta0, float), prob.lo, prob.hi)
    B, p = theta.shape
    w = np.broadcast_to(w, (B, prob.n)) if w.shape[0] == 1 else w
    f, g, H = prob.evaluate(theta, w, 2)
    lam = np.full(B, float(lam0))
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
        proj = np.einsum("bkj,bk->bj", V, pg)
        # already converged (the convergence test of the end, see below): stop now instead
        # of spending rejected trials until the damping gives up
        with np.errstate(all="ignore"):
            dec = np.where((ev > 0).all(axis=1), (proj * proj / np.where(ev > 0, ev, 1.0)).sum(axis=1), np.inf)
        fin = (np.sqrt((pg * pg).sum(axis=1)) <= _gtol(f[act], prob)) | (dec <= 1e-11 * np.abs(f[act]) + 1e-300)
        if fin.any():
            done[act[fin]] = True
            keep = ~fin
            act, th, pg, ev, V, proj = act[keep], th[keep], pg[keep], ev[keep], V[keep], proj[keep]
            if act.size == 0:
                break
        scale = np.maximum(np.abs(ev).max(axis=1), 1e-300)
        shifted = np.abs(ev) + lam[act, None] * scale[:, None]
        step = -np.einsum("bkj,bj->bk", V, proj / shifted)
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
            small = (fo - f[acc]) <= ftol * np.abs(fo) + 1e-300
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


def fit_data(data, form="chinchilla", **options) -> dict:
    """`kb.fit(data, form="chinchilla", ...)`: data is a CSV path, a mapping of column ->
    values, a pandas DataFrame or a list of row dicts; options as for fit() (weights, fixed,
    tie, bounds, grid, starts, bootstrap, seed, objective, columns, predict, ...)."""
    if isinstance(data, (str, Path)):
        return fit_csv(data, form, **options)
    return fit(data, form, **options)


def fit(rows, form, objective="huber-log", bootstrap=0, seed=0, approach=3, progress=None,
        columns=None, fixed=None, budget=None, starts=8, group="auto", isoflop_points=5,
        where="data", weights=None, tie=None, bounds=None, grid=None, predict=None, compare=None) -> dict:
    """Fit `form` (a name in kb.forms.FORMS or a Form) to rows (a {column: values} table or
    a list of dicts). Returns a JSON-able dict (see module docstring of kb.fit).

    weights: a column name, an array (one weight per row), or None (a `weight` column is used
    when present); tie {kept: follower} (e.g. {"alpha": "beta"}: one exponent for both);
    bounds {name: (lo, hi)}; grid {name: start values} for the exponent grid; starts: how many
    grid points are polished."""
    base = forms_mod.get(form)
    if approach == 2:
        return _approach2(rows, base, bootstrap, seed, progress, columns, isoflop_points, where)
    if approach != 3:
        raise KbError(f"approach must be 2 (IsoFLOP parabolas) or 3 (parametric fit), not {approach}")
    if objective not in OBJECTIVES:
        raise KbError(f"unknown objective '{objective}'; choose one of {', '.join(OBJECTIVES)}")
    if not isinstance(starts, (int, np.integer)) or isinstance(starts, bool) or starts < 1:
        raise KbError(f"starts must be a positive integer (grid points polished), not {starts!r}")
    tie = dict(tie or {})
    form = forms_mod.variant(base, tie=tie, bounds=bounds, starts=grid)
    fixed = dict(fixed or {})
    for name in fixed:
        if name in tie.values():
            raise KbError(f"cannot fix '{name}': it is tied to '{next(k for k, v in tie.items() if v == name)}'; fix that one")
    cols = dict(columns or {})
    if isinstance(weights, str):
        cols["weight"] = weights
    data, groups, mapping = resolve(rows, form.variables, form.target, cols, where)
    y = data[form.target]
    n = len(y)
    if weights is not None and not isinstance(weights, str):
        data["weight"] = _weights(weights, "weights")
        if data["weight"].size != n:
            raise KbError(f"weights: {data['weight'].size} values for {n} rows")
        mapping["weight"] = "(given)"
    wrow = data.get("weight")
    nfree = len([p for p in form.params if p.name not in fixed])
    if n < nfree:
        raise BadFile(f"{where}: {n} data points cannot determine {nfree} parameters of form {form.name}")
    prob = _Problem(form, data, y, objective, fixed, wrow)
    warnings = []
    w1 = prob.w

    # 1. start grid, with amplitudes solved exactly; on many rows, on a fixed subsample
    # (the grid only ranks starts: its cost is grid x rows, the polish's only starts x rows)
    stages = [prob]
    if n > GRID_ROWS:  # nested subsamples, each 16x the last: each polish starts near its optimum
        perm = np.random.default_rng(0).permutation(n)
        size = GRID_ROWS
        while size * 4 <= n:
            sub = np.sort(perm[:size])
            stages.insert(-1, _Problem(form, {k: v[sub] for k, v in data.items() if k in form.variables},
                                       y[sub], objective, fixed, None if wrow is None else wrow[sub]))
            size *= 16
    sprob = stages[0]
    grid_pts, gidx, gobj = sprob.start_grid()
    chosen = _pick_starts(gobj, gidx, starts)
    # 2. polish the chosen starts together
    theta, fval, gnorm, conv = _newton(sprob, grid_pts[chosen], sprob.w,
                                       ftol=STAGE_FTOL if sprob is not prob else 1e-14)
    reached = _reached(fval)
    for stage in stages[1:]:  # the best few optima of a subsample, polished on more rows
        keep = []
        for i in np.argsort(np.where(np.isfinite(fval), fval, np.inf), kind="stable"):
            if all(np.abs(theta[i] - theta[j]).max() > 1e-6 for j in keep):  # same optimum: polish once
                keep.append(i)
            if len(keep) == FULL_POLISH:
                break
        # warm starts: little damping, or flat directions (the A/B valley) crawl
        theta, fval, gnorm, conv = _newton(stage, theta[keep], stage.w, lam0=1e-9,
                                           ftol=STAGE_FTOL if stage is not prob else 1e-14)
    best = int(np.argmin(np.where(np.isfinite(fval), fval, np.inf)))
    fbest = fval[best]
    if not np.isfinite(fbest):
        raise KbError(f"form {form.name} could not be fitted to {where}: the objective is not finite "
                      "anywhere on the start grid")
    if len(stages) == 1:
        reached = _reached(fval)
    th = theta[best]
    nat = prob.natural(th)[0]
    params = {p.name: float(nat[k]) for k, p in enumerate(prob.free)}
    params.update(prob.fixed)
    for kept, follower in tie.items():
        params[follower] = params[kept]
    params = {p.name: params[p.name] for p in base.params}

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
        for kept, follower in tie.items():
            if kept in ci:
                ci[follower] = list(ci[kept])
        for name, c in boot_info["at_bound"].items():
            p = form.param(name)
            where_ = " and ".join(f"{c[side]} at its {side} bound {b:g}" for side, b in (("low", p.lo), ("high", p.hi))
                                  if c[side])
            warnings.append(f"{name}: {where_} of {boot_info['converged']} bootstrap draws; its interval "
                            "is cut by the bound (widen it with --bounds, or the data do not determine it)")
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

    diagnostics = _diagnostics(prob, th, w1, data, y, objective, corr)
    warnings += diagnostics.pop("warnings")
    prediction = None
    if predict:
        prediction = _predict(base, params, predict, (boot_info or {}).get("_draws"), tie, prob.fixed)
    comparison = None
    if compare:
        comparison = _compare(compare, params, ci, set(prob.fixed))
    if boot_info:
        boot_info.pop("_draws", None)

    result = {
        "form": base.name,
        "formula": base.formula,
        "objective": objective,
        "approach": 3,
        "params": params,
        "fixed": dict(prob.fixed),
        "tied": {f: k for k, f in tie.items()},
        "weighted": wrow is not None,
        "ci": ci,
        "n_points": n,
        "objective_value": float(fbest),
        "objective_name": OBJECTIVE_NAMES[objective],
        "diagnostics": diagnostics,
        "prediction": prediction,
        "comparison": comparison,
        "starts": {"grid": int(len(grid_pts)), "polished": int(len(chosen)), "reached_best": reached,
                   "grid_rows": int(sprob.n), "rows_per_stage": [int(st.n) for st in stages]},
        "converged": bool(conv[best]),
        "grad_norm": float(gnorm[best]),
        "derived": {"budget": C_budget, **derived} if derived else {},
        "correlations": corr,
        "correlations_from": corr_from,
        "bootstrap": boot_info,
        "columns": mapping,
        "ranges": {v: [float(data[v].min()), float(data[v].max())] for v in form.variables},
        "warnings": warnings,
        "data_hash": data_hash({k: data[k] for k in (*form.variables, form.target, "weight") if k in data}),
    }
    return _clean(result)


def _diagnostics(prob, th, w, data, y, objective, corr):
    """Residual summary, flat directions of the scaled Hessian, highly correlated pairs."""
    env, _ = prob.env(th[None, :])
    F = np.broadcast_to(prob.f(env), (1, prob.n))[0]
    with np.errstate(all="ignore"):
        r = np.log(F / y) if prob.uselog else F - y
    kind = "log(predicted / observed)" if prob.uselog else "predicted - observed"
    out = {"residuals": {"of": kind, "rms": float(np.sqrt(np.mean(r * r))), "median_abs": float(np.median(np.abs(r))),
                         "max_abs": float(np.max(np.abs(r))), "mean": float(np.mean(r)),
                         "share_above": float(np.mean(r > 0))},
           "flat_directions": [], "high_correlations": [], "warnings": []}
    if objective == "huber-log":
        out["residuals"]["share_inside_huber"] = float(np.mean(np.abs(r) <= HUBER_DELTA))
    # Hessian in the search scale, normalised to unit diagonal: eigenvalues near 0 relative
    # to the largest are directions the objective barely changes along (weakly identified)
    _, _, H = prob.evaluate(th[None, :], w, 2)
    H = np.nan_to_num(H[0])
    d = np.sqrt(np.abs(np.diag(H)))
    d = np.where(d > 0, d, 1.0)
    ev, V = np.linalg.eigh(H / np.outer(d, d))
    top = max(float(np.abs(ev).max()), 1e-300)
    for k in range(len(ev)):
        ratio = float(ev[k] / top)
        if ratio < FLAT_RATIO:
            v = V[:, k] / np.abs(V[:, k]).max()
            out["flat_directions"].append({"eigenvalue_ratio": ratio,
                                           "direction": {n: float(v[i]) for i, n in enumerate(prob.names) if abs(v[i]) > 0.1}})
    for fd in out["flat_directions"]:
        out["warnings"].append(f"weakly identified: the objective is flat (eigenvalue ratio {fd['eigenvalue_ratio']:.1e}) "
                               f"along a mix of {', '.join(fd['direction'])}")
    names = list(corr)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            c = corr[a].get(b)
            if c is not None and np.isfinite(c) and abs(c) >= HIGH_CORRELATION:
                out["high_correlations"].append({"a": a, "b": b, "r": float(c)})
                out["warnings"].append(f"{a} and {b} are correlated {c:+.3f}: not separately identified by these data")
    return out


def _predict(form, params, inputs, draws, tie, fixed):
    """The form's value at `inputs` ({variable: value}); with bootstrap draws, the 2.5-97.5
    percentile interval of the draws' values."""
    unknown = [k for k in inputs if k not in form.variables]
    missing = [v for v in form.variables if v not in inputs]
    if unknown or missing:
        raise KbError(f"--predict needs {', '.join(form.variables)} for form {form.name}"
                      f"{'; unknown ' + ', '.join(unknown) if unknown else ''}")
    f = form.compiled()
    env = {**forms_mod.helper_env(), **{k: float(v) for k, v in inputs.items()}}
    with np.errstate(all="ignore"):
        value = float(f({**env, **params}))
        out = {"inputs": dict(inputs), "value": value, "interval": None}
        if draws:
            denv = dict(env)
            denv.update(fixed)
            denv.update(draws)
            for kept, follower in tie.items():
                denv[follower] = denv[kept]
            v = np.asarray(f(denv), float)
            v = v[np.isfinite(v)]
            if v.size:
                out["interval"] = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
                out["draws"] = int(v.size)
    return out


def _compare(compare, params, ci, fixed=()):
    """Whether a published law's constants ({"law": id, "constants": {symbol: value}}) lie
    within the fit's bootstrap intervals."""
    rows = {}
    for name, value in compare["constants"].items():
        if name not in params or value is None or not math.isfinite(value):
            continue
        interval = ci.get(name)
        inside = None if not interval or None in interval else bool(interval[0] <= value <= interval[1])
        rows[name] = {"published": float(value), "fitted": params[name], "interval": interval, "inside": inside,
                      "held_fixed": name in fixed}
    if not rows:
        raise KbError(f"--compare {compare['law']}: it shares no constant with the fitted form "
                      f"({', '.join(params)})")
    verdicts = [r["inside"] for r in rows.values() if not r["held_fixed"]]
    return {"law": compare["law"], "constants": rows,
            "all_inside": None if None in verdicts else all(verdicts),
            "note": None if None not in verdicts else "no bootstrap intervals: run with --bootstrap N"}


def _reached(fval):
    """How many polished starts reached the best objective (to 1e-7)."""
    fbest = np.min(np.where(np.isfinite(fval), fval, np.inf))
    return int(np.sum(fval - fbest <= 1e-7 * abs(fbest) + 1e-14))


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
    chunk = max(1, min(100, (CHUNK * 16) // n))  # draws refitted at once: bounded memory
    done = 0
    if progress:
        progress(0, draws)
    while done < draws:
        m = min(chunk, draws - done)
        counts = rng.multinomial(ng, np.full(ng, 1.0 / ng), size=m)  # (m, ng)
        W = counts[:, groups] * prob.w
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
    # draws held at a bound: the percentile interval is cut there, not a property of the data
    span = prob.hi - prob.lo
    at_bound = {}
    for k, name in enumerate(prob.names):
        lo_n = int(np.sum(Tg[:, k] <= prob.lo[k] + 1e-6 * span[k]))
        hi_n = int(np.sum(Tg[:, k] >= prob.hi[k] - 1e-6 * span[k]))
        if lo_n or hi_n:
            at_bound[name] = {"low": lo_n, "high": hi_n}
    info["at_bound"] = at_bound
    info["_draws"] = samples  # natural-scale draws, for predictions (dropped from the result)
    return ci, info, corr


def summary_lines(result: dict) -> "list[str]":
    """Text lines for `kb fit` after the parameter table: objective, residuals, prediction,
    comparison with a published law."""
    def g(v, d=4):
        return "-" if v is None else f"{v:.{d}g}"

    out = []
    if result.get("objective_value") is not None:
        out.append(f"objective: {result.get('objective_name') or result.get('objective')} = "
                   f"{result['objective_value']:.6g}")
    res = (result.get("diagnostics") or {}).get("residuals")
    if res:
        out.append(f"residuals ({res['of']}): rms {g(res['rms'], 3)}, median |r| {g(res['median_abs'], 3)}, "
                   f"max |r| {g(res['max_abs'], 3)}, mean {g(res['mean'], 2)}, {res['share_above']:.0%} above 0")
    pred = result.get("prediction")
    if pred:
        at = ", ".join(f"{k}={v:.4g}" for k, v in pred["inputs"].items())
        ci = pred.get("interval")
        out.append(f"prediction at {at}: {pred['value']:.5g}"
                   + (f" (95% bootstrap interval {ci[0]:.5g} .. {ci[1]:.5g})" if ci else " (no interval: use --bootstrap N)"))
    comp = result.get("comparison")
    if comp:
        for name, row in comp["constants"].items():
            ci = row["interval"]
            verdict = ("held fixed in the fit" if row.get("held_fixed")
                       else {True: "inside", False: "OUTSIDE", None: "no interval"}[row["inside"]])
            out.append(f"{comp['law']} {name} = {row['published']:.5g}: {verdict}"
                       + (f" [{ci[0]:.4g}, {ci[1]:.4g}]" if ci and None not in ci else ""))
        if comp.get("all_inside") is not None:
            out.append(f"{comp['law']}: {'every constant lies' if comp['all_inside'] else 'not every constant lies'} "
                       "within the fit's 95% intervals")
    return out


# ----------------------------------------------------------------------------- options as typed


def _pairs(items, what, example):
    out = {}
    for item in items or []:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise KbError(f"{what} takes NAME=VALUE, e.g. {example}; got '{part}'")
            k, v = (x.strip() for x in part.split("=", 1))
            if not k or not v:
                raise KbError(f"{what} takes NAME=VALUE, e.g. {example}; got '{part}'")
            if k in out:
                raise KbError(f"{what}: '{k}' given twice")
            out[k] = v
    return out


def _number(text, what):
    return units.parse_number(text, what)[0]


def parse_options(fix=(), tie=(), bounds=(), starts=(), predict=()) -> dict:
    """Keyword arguments of fit() from CLI-style strings: fix ['alpha=0.34'], tie
    ['alpha=beta'], bounds ['E=0.5:3'], starts ['16'] (grid points polished) or
    ['alpha=0.1:1.2:12'] / ['alpha=0.2,0.3'] (a start grid), predict ['N=70B,D=1.4T']."""
    out = {}
    if fix:
        out["fixed"] = {k: _number(v, f"--fix {k}") for k, v in _pairs(fix, "--fix", "alpha=0.34").items()}
    if tie:
        out["tie"] = _pairs(tie, "--tie", "alpha=beta")
    if bounds:
        b = {}
        for k, v in _pairs(bounds, "--bounds", "E=0.5:3").items():
            lo, sep, hi = v.partition(":")
            if not sep:
                raise KbError(f"--bounds {k}: expected LO:HI, e.g. E=0.5:3; got '{v}'")
            b[k] = (_number(lo, f"--bounds {k}"), _number(hi, f"--bounds {k}"))
        out["bounds"] = b
    grid = {}
    for item in starts or []:
        item = str(item).strip()
        if "=" not in item:
            try:
                out["starts"] = int(item)
            except ValueError:
                raise KbError(f"--starts takes a count (e.g. 16) or NAME=LO:HI:COUNT / NAME=V1,V2; got '{item}'") from None
            continue
        k, v = (x.strip() for x in item.split("=", 1))
        if v.count(":") == 2:
            lo, hi, count = v.split(":")
            try:
                count = int(count)
            except ValueError:
                raise KbError(f"--starts {k}: COUNT must be an integer; got '{count}'") from None
            if count < 1 or count > 1000:
                raise KbError(f"--starts {k}: COUNT must be 1..1000")
            grid[k] = tuple(np.linspace(_number(lo, f"--starts {k}"), _number(hi, f"--starts {k}"), count))
        else:
            grid[k] = tuple(_number(x, f"--starts {k}") for x in v.split(",") if x.strip())
    if grid:
        out["grid"] = grid
    if predict:
        out["predict"] = {k: _number(v, f"--predict {k}") for k, v in _pairs(predict, "--predict", "N=70B,D=1.4T").items()}
    return out


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
        if np.ptp(x) == 0:  # one size only (several configurations in one file): no parabola
            continue
        with _warnings.catch_warnings():  # resampled budgets may repeat a run: still a fit
            _warnings.simplefilter("ignore")
            try:
                c2, c1, c0 = np.polyfit(x - xm, yv, 2)
            except np.linalg.LinAlgError:
                continue
        if not c2 > 0:
            continue
        xv = -c1 / (2 * c2)
        if not (np.isfinite(xv) and np.isfinite(c0)):  # degenerate sizes (e.g. one N twice): no vertex
            continue
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
    if result.get("weighted"):
        notes.append(f"Rows weighted by column '{result.get('columns', {}).get('weight')}'.")
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
        elif pname in result.get("tied", {}):
            c["note"] = f"tied to {result['tied'][pname]} in the fit (one parameter for both)"
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


class _CallableModule(types.ModuleType):
    """`kb.fit` is this module (`from kb import fit` keeps working) and also the API call
    `kb.fit(data, form=...)`: importing the submodule rebinds the package attribute to the
    module, so the module itself must be callable."""

    def __call__(self, data, form="chinchilla", **options):
        return fit_data(data, form, **options)


sys.modules[__name__].__class__ = _CallableModule
