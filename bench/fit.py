"""Benchmark: `kb fit` (kb.fit) against the reference Approach-3 grid, in one process.

Reference: Hoffmann et al.'s recipe as replicated by Besiroglu et al. 2024 (arXiv 2404.10102,
epoch-research/analyzing-chinchilla): log L^ = LSE(a - alpha log N, b - beta log D, e)
(Hoffmann eq 11), the SUM of Huber(delta=1e-3) of log residuals, scipy L-BFGS-B with
finite-difference gradients from every point of the grid alpha, beta in {0, 0.5, ..., 2},
e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}: 4,500 starts, best kept.
By default an evenly spread subset of the starts is run and the time extrapolated to 4,500
(`--starts 4500` runs them all, about 2.5 minutes on 2 cores).

Data: ../shared/data/epoch-chinchilla (no licence; read as test data, 5 highest losses dropped).

    python bench/fit.py [--starts 150] [--bootstrap 1000]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "epoch-chinchilla" / "svg_extracted_data.csv"
DELTA = 1e-3


def rows():
    from kb import fit as kbfit

    table = kbfit.read_csv(DATA)
    loss = np.array(table["loss"], float)
    keep = np.sort(np.argsort(loss, kind="stable")[:-5])
    return {k: [v[i] for i in keep] for k, v in table.items()}


def reference_grid(table, n_starts):
    from scipy.optimize import minimize
    from scipy.special import huber

    N = np.array(table["Model Size"], float)
    C = np.array(table["Training FLOP"], float)
    D = C / (6.0 * N)
    logN, logD, logL = np.log(N), np.log(D), np.log(np.array(table["loss"], float))

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
            best = (r.fun, r.x)
    elapsed = time.perf_counter() - t0
    return elapsed, elapsed * len(grid) / len(idx), best, len(idx)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=150, help="reference starts to run (of 4,500)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    from kb import fit as kbfit  # noqa: E402  (numpy only)

    table = rows()
    cold_t0 = time.perf_counter()
    ours = kbfit.fit(table, "chinchilla", objective="huber-log")
    cold = time.perf_counter() - cold_t0
    warm = []
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        ours = kbfit.fit(table, "chinchilla", objective="huber-log")
        warm.append(time.perf_counter() - t1)
    warm_t = statistics.median(warm)
    import_and_cold = time.perf_counter() - t0 - sum(warm)

    t1 = time.perf_counter()
    boot = kbfit.fit(table, "chinchilla", bootstrap=args.bootstrap, seed=0)
    boot_t = time.perf_counter() - t1

    ran, full, (ref_obj, ref_x), n_run = reference_grid(table, args.starts)
    a, b, e, alpha, beta = ref_x
    p = ours["params"]
    print(f"data: {DATA.name}, {ours['n_points']} points")
    print(f"ours:      E={p['E']:.5f} A={p['A']:.2f} B={p['B']:.2f} alpha={p['alpha']:.5f} beta={p['beta']:.5f}"
          f"  objective={ours['objective_value']:.10e}  starts reaching best {ours['starts']['reached_best']}"
          f"/{ours['starts']['polished']}  grad_norm={ours['grad_norm']:.1e}")
    print(f"reference: E={np.exp(e):.5f} A={np.exp(a):.2f} B={np.exp(b):.2f} alpha={alpha:.5f} beta={beta:.5f}"
          f"  objective={ref_obj:.10e}  (best of {n_run} starts)")
    print(f"objective: ours - reference = {ours['objective_value'] - ref_obj:+.3e} "
          f"({'no worse' if ours['objective_value'] <= ref_obj * (1 + 1e-12) else 'WORSE'})")
    print(f"time ours: {warm_t * 1e3:.1f} ms (median of {args.repeat}); first call {cold * 1e3:.1f} ms; "
          f"kb import + data + first call {import_and_cold * 1e3:.1f} ms")
    print(f"time reference: {ran:.2f} s for {n_run} starts -> {full:.1f} s for 4,500 starts "
          f"({full / 4500 * 1e3:.1f} ms per start)")
    print(f"ratio (reference 4,500 starts / ours): {full / warm_t:.0f}x (warm), {full / cold:.0f}x (first call)")
    print(f"bootstrap: {args.bootstrap} draws in {boot_t:.2f} s "
          f"({boot['bootstrap']['converged']} converged); "
          f"CI alpha {boot['ci']['alpha'][0]:.4f}..{boot['ci']['alpha'][1]:.4f}, "
          f"beta {boot['ci']['beta'][0]:.4f}..{boot['ci']['beta'][1]:.4f}")
    goals = [("fit < 1 s", cold < 1.0), (">= 300x faster than the grid", full / cold >= 300),
             ("objective no worse than the grid", ours["objective_value"] <= ref_obj * (1 + 1e-12)),
             (f"{args.bootstrap} bootstrap draws < 10 s", boot_t < 10)]
    print("goals: " + "; ".join(f"{g}: {'yes' if ok else 'NO'}" for g, ok in goals))


if __name__ == "__main__":
    main()
