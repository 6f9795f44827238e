"""Benchmark: memory and time of `kb fit` on many rows (issue 11 item 11: O(rows) memory).

Writes synthetic Chinchilla-form runs (10^5 and 10^6 rows, 1% log-normal noise) as CSV,
then runs `kb fit FILE --json` as a separate process under /usr/bin/time -v and prints the
maximum resident set size and the wall time, with the same figures for `python -c "import
numpy"` as the floor measured in the same run. Goal: 10^6 rows under 1 GB and 60 s.

    python bench/fit_memory.py [--rows 100000 1000000] [--dir /tmp]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

KB = Path(sys.executable).parent / "kb"


def write_rows(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7, 10, n)
    D = 10 ** rng.uniform(9, 12, n)
    loss = (1.8 + 400 / N**0.34 + 2000 / D**0.37) * np.exp(rng.normal(0, 0.01, n))
    with open(path, "w") as fh:
        fh.write("N,D,loss\n")
        np.savetxt(fh, np.column_stack([N, D, loss]), delimiter=",", fmt="%.6e")


def measured(argv) -> "tuple[float, float, str]":
    p = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    if p.returncode:
        raise SystemExit(f"{argv}: exit {p.returncode}: {p.stderr.splitlines()[0] if p.stderr else ''}")
    return rss, secs, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    floor_rss, floor_t, _ = measured([sys.executable, "-c", "import numpy"])
    print(f"floor: python -c 'import numpy'  {floor_rss:7.0f} MB  {floor_t:6.2f} s")
    ok = True
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for n in args.rows:
            path = Path(tmp) / f"runs_{n}.csv"
            write_rows(path, n)
            rss, secs, out = measured([str(KB), "fit", str(path), "--json"])
            r = json.loads(out)
            p = r["params"]
            good = rss < 1024 and secs < 60
            ok &= good or n > 1_000_000
            print(f"kb fit {n:>9,} rows  {rss:7.0f} MB  {secs:6.2f} s  ({rss / floor_rss:.1f}x the floor's memory)"
                  f"  alpha={p['alpha']:.4f} beta={p['beta']:.4f} E={p['E']:.4f}  objective={r['objective_value']:.6g}"
                  f"  goal < 1 GB and < 60 s: {'OK' if good else 'MISSED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
