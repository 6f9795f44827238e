"""`kb add` of one law file with many laws, then `kb list`: time, rate and peak memory.

Generates a file of N laws (default 1e5; `python bench/add_scale.py 20000` for a quicker run)
in the shape of a user's fitted laws (a Chinchilla-form loss, five constants, two variables,
a check), adds it to a fresh SQLite store with the installed `kb`, then runs `kb list` and
`kb list --source` on that store. Reference, measured in the same run: `kb list` on a store
holding only the published laws; for `kb add`, the same file parsed by tomli alone with its laws and
constants inserted by sqlite3 executemany; for `kb show`, a published law in the same store.
Goals (issue 11, item 13): add < 30 s, list < 1 s.
Peak RSS is the child processes' maximum resident set (resource.getrusage RUSAGE_CHILDREN).
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import KB

HEAD = '''schema = 1
[source]
bibkey = "scale2026"
short = "Scale test"
title = "Many fitted laws"
authors = ["A. Tester"]
year = 2026
verified = false
'''

LAW = '''
[[law]]
name = "fit{i}"
title = "Refit number {i}"
kind = "loss"
verified = false
predicts = {{ symbol = "L", quantity = "final loss", unit = "nats/token" }}
formula = "E + A / N**alpha + B / D**beta"
location = "run {i}"
tags = ["scale", "t{tag}"]
variables.N = {{ meaning = "parameters", unit = "params", fitted = ["1e8", "1e10"] }}
variables.D = {{ meaning = "tokens", unit = "tokens", fitted = ["1e9", "1e11"] }}
constants.E = {{ value = "1.{i:05d}", location = "run {i}" }}
constants.A = {{ value = "406.4", location = "run {i}" }}
constants.B = {{ value = "410.7", location = "run {i}" }}
constants.alpha = {{ value = "0.34", location = "run {i}" }}
constants.beta = {{ value = "0.28", location = "run {i}" }}
[[law.check]]
location = "run {i}"
expr = "alpha + beta"
expect = "0.62"
'''


def write_file(path: Path, n: int) -> int:
    with open(path, "w") as f:
        f.write(HEAD)
        for i in range(n):
            f.write(LAW.format(i=i, tag=i % 10))
    return path.stat().st_size


REFERENCE = '''
import sqlite3, sys
from decimal import Decimal
try:
    import tomli as tomllib
except ImportError:
    import tomllib
data = tomllib.loads(open(sys.argv[1], encoding="utf-8").read(), parse_float=Decimal)
conn = sqlite3.connect(sys.argv[2])
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("CREATE TABLE law (id TEXT PRIMARY KEY, position INT, title TEXT, kind TEXT, formula TEXT, location TEXT)")
conn.execute("CREATE TABLE constant (law TEXT, symbol TEXT, value TEXT, location TEXT)")
conn.execute("CREATE INDEX constant_law ON constant (law)")
with conn:
    bibkey = data["source"]["bibkey"]
    conn.executemany("INSERT INTO law VALUES (?, ?, ?, ?, ?, ?)",
                     [(f"{bibkey}.{t['name']}", i, t["title"], t["kind"], t["formula"], t["location"])
                      for i, t in enumerate(data["law"])])
    conn.executemany("INSERT INTO constant VALUES (?, ?, ?, ?)",
                     [(f"{bibkey}.{t['name']}", s, str(c["value"]), c["location"])
                      for t in data["law"] for s, c in t["constants"].items()])
'''

CPU = {}  # argv[1] -> CPU seconds (user + system) of that child: what a shared machine's load does not inflate


def timed(argv, env) -> "tuple[float, subprocess.CompletedProcess]":
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[str(argv[1])] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, proc


def main() -> int:
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        law_file = tmp / "scale2026.toml"
        size = write_file(law_file, n)
        env = {**os.environ, "KB_DATABASE_URL": f"sqlite:///{tmp / 'kb.sqlite'}"}
        ref_env = {**os.environ, "KB_DATABASE_URL": f"sqlite:///{tmp / 'ref.sqlite'}"}
        timed([KB, "list"], ref_env)  # creates and syncs the reference store
        ref, _ = timed([KB, "list"], ref_env)
        ref_cpu = CPU["list"]
        timed([KB, "list"], env)  # the published laws synced, so `add` times the add alone
        add, _ = timed([KB, "add", law_file], env)
        add_cpu = CPU["add"]
        rss_add = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        # reference: the same file parsed by tomli alone, its laws and constants inserted by
        # sqlite3's executemany (no validation, no ORM, no other tables)
        reference, _ = timed([sys.executable, "-c", REFERENCE, law_file, tmp / "bare.sqlite"], env)
        reference_cpu = CPU["-c"]
        lst, proc = timed([KB, "list"], env)
        list_cpu = CPU["list"]
        listed = proc.stdout.count("\n")
        one, _ = timed([KB, "list", "--source", "scale2026", "--tag", "t3", "--json"], env)
        show, _ = timed([KB, "show", f"scale2026.fit{n // 2}"], env)
        show_cpu = CPU["show"]
        show_ref, _ = timed([KB, "show", "hoffmann2022.approach3"], env)
        show_ref_cpu = CPU["show"]
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"add_scale: {n} laws, {size / 1e6:.1f} MB file")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times include waiting for a core)")
    print(f"  kb add          {add:7.2f} s wall, {add_cpu:6.2f} s CPU   {n / add:8.0f} laws/s   goal < 30 s   "
          f"{'OK' if add < 30 else 'MISSED'}")
    print(f"  kb list         {lst:7.2f} s wall, {list_cpu:6.2f} s CPU  ({listed} lines)   reference (published "
          f"only) {ref:.2f} s wall, {ref_cpu:.2f} s CPU   ratio {lst / ref:.1f}x   goal < 1 s   "
          f"{'OK' if lst < 1 else 'MISSED'}")
    print(f"  reference: tomli parse + executemany of the laws and constants  {reference:.2f} s wall, "
          f"{reference_cpu:.2f} s CPU;  kb add / reference = {add_cpu / reference_cpu:.2f}x CPU")
    print(f"  kb list --source --tag --json  {one:.2f} s")
    print(f"  kb show one of those laws {show:.2f} s wall, {show_cpu:.2f} s CPU;  reference: kb show of a "
          f"published law in the same store {show_ref:.2f} s wall, {show_ref_cpu:.2f} s CPU")
    print(f"  peak RSS of a child: kb add {rss_add:.0f} MB; any command {rss:.0f} MB")
    return 0 if add < 30 and lst < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
