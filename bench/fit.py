"""Benchmark: `kb fit` against the reference Approach-3 grid on every data set in ../shared/data.

Reference: Hoffmann et al.'s recipe as replicated by Besiroglu et al. 2024 (arXiv 2404.10102,
epoch-research/analyzing-chinchilla): log L^ = LSE(a - alpha log N, b - beta log D, e)
(Hoffmann eq 11), the SUM of Huber(delta=1e-3) of log residuals, scipy L-BFGS-B with
finite-difference gradients from every point of the grid alpha, beta in {0, 0.5, ..., 2},
e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}: 4,500 starts, best kept.
By default an evenly spread subset of the starts is run and the time extrapolated to 4,500
(`--starts 4500` runs them all). kb's objective is compared with the best objective the grid
reached in the same run.

For each data set it prints kb's objective and the grid's, kb's in-process time (median of
warm calls), the whole `kb fit FILE --json` process (median of 3), and the ratios
grid(4,500 starts) / kb. With `--peer PYTHON` (an interpreter where `simple-scaling-laws` and
this checkout are importable: it needs Python >= 3.12) the peer's in-process fit of the same
points is timed in that interpreter against kb's in the same process.

Data (see each folder's README): epoch-chinchilla (Besiroglu recipe: 5 highest losses
dropped), chinchilla-pypi-example, gadre-overtraining (C4-trained, c4_val), misfitting (final
checkpoints), openathena-isoflops (each experiment), porian (each configuration, val loss).

    python bench/fit.py [--starts 150] [--bootstrap 1000] [--peer /path/to/python3.12]
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
KB = Path(sys.executable).parent / "kb"
DELTA = 1e-3
TARGET_PROCESS_RATIO = 500


def _read(path, keep=None):
    with open(path, newline="") as fh:
        return [r for r in csv.DictReader(fh) if keep is None or keep(r)]


def _nd(rows, n, d, loss="loss"):
    return {"N": np.array([float(r[n]) for r in rows]), "D": np.array([float(r[d]) for r in rows]),
            "loss": np.array([float(r[loss]) for r in rows])}


def datasets():
    out = []
    p = DATA / "epoch-chinchilla" / "svg_extracted_data.csv"
    if p.exists():
        rows = _read(p)
        N = np.array([float(r["Model Size"]) for r in rows])
        C = np.array([float(r["Training FLOP"]) for r in rows])
        L = np.array([float(r["loss"]) for r in rows])
        keep = np.sort(np.argsort(L, kind="stable")[:-5])
        out.append(("epoch-chinchilla (240)", {"N": N[keep], "D": C[keep] / (6 * N[keep]), "loss": L[keep]}))
    p = DATA / "chinchilla-pypi-example" / "df.csv"
    if p.exists():
        out.append(("chinchilla-pypi-example", _nd(_read(p), "N", "D")))
    p = DATA / "gadre-overtraining" / "gadre_losses_flat.csv"
    if p.exists():
        out.append(("gadre c4 / c4_val", _nd(_read(p, lambda r: r["dataset"] == "c4_original" and r["val_set"] == "c4_val"),
                                             "params", "tokens")))
    p = DATA / "misfitting" / "scaling_results_last_ckpt_only.csv"
    if p.exists():
        out.append(("misfitting final ckpts", _nd(_read(p), "N", "D")))
    p = DATA / "openathena-isoflops" / "extract" / "isoflops.csv"
    if p.exists():
        by = defaultdict(list)
        for r in _read(p):
            by[r["experiment"]].append(r)
        for name in sorted(by):
            out.append((f"openathena {name}", _nd(by[name], "params", "tokens")))
    p = DATA / "porian" / "porian_isoflop_points.csv"
    if p.exists():
        by = defaultdict(list)
        for r in _read(p, lambda r: r["val"] == "val"):
            by[(r["dataset"], r["hparams"], r["warmup"], r["decay"], r["param_count"])].append(r)
        for key in sorted(by):
            out.append(("porian " + "/".join(key), _nd(by[key], "params", "tokens")))
    return out


def reference_grid(data, n_starts):
    from scipy.optimize import minimize
    from scipy.special import huber

    logN, logD, logL = np.log(data["N"]), np.log(data["D"]), np.log(data["loss"])

    def objective(x):
        a, b, e, alpha, beta = x
        pred = np.logaddexp(np.logaddexp(a - alpha * logN, b - beta * logD), e)
        return np.sum(huber(DELTA, pred - logL))

    grid = [(a, b, e, al, be)
            for al in np.arange(0, 2.01, 0.5) for be in np.arange(0, 2.01, 0.5)
            for e in np.arange(-1, 1.01, 0.5) for a in np.arange(0, 26, 5) for b in np.arange(0, 26, 5)]
    assert len(grid) == 4500
    idx = np.unique(np.linspace(0, len(grid) - 1, n_starts).round().astype(int))
    best = (np.inf, None)
    t0 = time.perf_counter()
    for i in idx:
        r = minimize(objective, np.array(grid[i], float), method="L-BFGS-B")
        if r.fun < best[0]:
            best = (float(r.fun), r.x)
    elapsed = time.perf_counter() - t0
    return elapsed * len(grid) / len(idx), best, len(idx)


def process_time(path, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.run([str(KB), "fit", str(path), "--json"], capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if p.returncode:
            raise SystemExit(f"kb fit {path}: {p.stderr.strip()}")
    return statistics.median(times), json.loads(p.stdout)


PEER_CODE = r"""
import json, sys, time, statistics
import numpy as np
sys.path.insert(0, sys.argv[1])
from kb import fit as kbfit
from simple_scaling_laws.laws import build_law
from simple_scaling_laws.fitting import fit_curve, parameter_bounds
sets = json.load(open(sys.argv[2]))
out = []
def timed(f, repeat=5):
    f()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), r
for name, d in sets:
    d = {k: np.asarray(v, float) for k, v in d.items()}
    def peer():
        # the peer's own pipeline step: predictors normalised to a geometric mean of one,
        # its bounds and grid seeder, weighted least squares on the loss (scipy trf)
        law = build_law("separable-power", ["model_size__n"], ["dataset_size__d"])
        log_x = np.log(np.column_stack([d["N"], d["D"]]))
        log_x = log_x - log_x.mean(axis=0)
        bounds = parameter_bounds(law, d["loss"], signed_amplitude=False)
        return fit_curve(law, log_x, d["loss"], np.ones(len(d["loss"])), bounds)
    res = {"peer": timed(peer)[0],
           "kb_mse": timed(lambda: kbfit.fit(d, "chinchilla", objective="mse"))[0],
           "kb_huber": timed(lambda: kbfit.fit(d, "chinchilla"))[0]}
    out.append([name, res])
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=150, help="reference starts to run (of 4,500)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default=None, help="run only data sets whose name contains this")
    ap.add_argument("--peer", default=None, help="python >= 3.12 with simple-scaling-laws installed")
    args = ap.parse_args()

    from kb import fit as kbfit  # numpy only

    sets = [s for s in datasets() if args.only is None or args.only in s[0]]
    ok_obj = ok_ratio = True
    worst = None
    print(f"{'data set':<58} {'n':>4} {'kb objective':>14} {'grid objective':>14} {'kb-grid':>10} "
          f"{'kb ms':>7} {'kb proc ms':>10} {'grid s':>7} {'in-proc x':>9} {'process x':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, d in sets:
            kbfit.fit(d, "chinchilla")  # compile the form's programs once (cached per process)
            warm = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                ours = kbfit.fit(d, "chinchilla")
                warm.append(time.perf_counter() - t)
            warm_t = statistics.median(warm)
            path = Path(tmp) / "runs.csv"
            with open(path, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["N", "D", "loss"])
                w.writerows(zip(*(map(repr, d[k].tolist()) for k in ("N", "D", "loss"))))
            proc_t, proc = process_time(path)
            full, (ref_obj, _), n_run = reference_grid(d, args.starts)
            obj = ours["objective_value"]
            no_worse = obj <= ref_obj * (1 + 1e-9) and proc["objective_value"] <= ref_obj * (1 + 1e-9)
            ok_obj &= no_worse
            ratio = full / proc_t
            ok_ratio &= ratio >= TARGET_PROCESS_RATIO
            worst = ratio if worst is None else min(worst, ratio)
            print(f"{name[:58]:<58} {len(d['loss']):>4} {obj:>14.8e} {ref_obj:>14.8e} {obj - ref_obj:>+10.2e} "
                  f"{warm_t * 1e3:>7.1f} {proc_t * 1e3:>10.1f} {full:>7.1f} {full / warm_t:>9.0f} {ratio:>9.0f}"
                  f"{'' if no_worse else '  WORSE'}")
        if args.peer:
            spec = Path(tmp) / "sets.json"
            spec.write_text(json.dumps([[n, {k: v.tolist() for k, v in d.items()}] for n, d in sets]))
            p = subprocess.run([args.peer, "-c", PEER_CODE, str(ROOT), str(spec)], capture_output=True, text=True)
            if p.returncode:
                print(f"peer run failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
            else:
                for name, res in json.loads(p.stdout):
                    print(f"in process vs simple-scaling-laws (least squares): {name[:50]:<50} kb mse "
                          f"{res['kb_mse'] * 1e3:7.1f} ms (huber-log {res['kb_huber'] * 1e3:7.1f} ms)  "
                          f"peer {res['peer'] * 1e3:7.1f} ms  ratio kb/peer {res['kb_mse'] / res['peer']:.2f}")

    epoch = [d for n, d in sets if n.startswith("epoch")]
    if epoch and args.bootstrap:
        t1 = time.perf_counter()
        boot = kbfit.fit(epoch[0], "chinchilla", bootstrap=args.bootstrap, seed=0)
        boot_t = time.perf_counter() - t1
        print(f"bootstrap (epoch): {args.bootstrap} draws in {boot_t:.2f} s ({boot['bootstrap']['converged']} converged); "
              f"CI alpha {boot['ci']['alpha'][0]:.4f}..{boot['ci']['alpha'][1]:.4f}, "
              f"beta {boot['ci']['beta'][0]:.4f}..{boot['ci']['beta'][1]:.4f}")
    print(f"grid: {args.starts} of 4,500 starts run per data set, time extrapolated to 4,500")
    goals = [("objective no worse than the grid on every data set", ok_obj),
             (f"whole process >= {TARGET_PROCESS_RATIO}x faster than the grid on every data set (worst {worst:.0f}x)"
              if worst else "process ratio", ok_ratio)]
    print("goals: " + "; ".join(f"{g}: {'yes' if ok else 'NO'}" for g, ok in goals))
    sys.exit(0 if ok_obj and ok_ratio else 1)


if __name__ == "__main__":
    main()
