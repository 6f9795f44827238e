"""Small timing helpers shared by the benchmarks: medians of repeated runs, in one process."""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

KB = Path(sys.executable).parent / "kb"


def median_time(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def command_time(argv, repeat: int = 9, env=None) -> float:
    full_env = {**os.environ, **(env or {})}

    def run():
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=full_env, check=False)

    run()  # warm the file cache
    return median_time(run, repeat)


def report(name: str, ours: float, reference: float, goal: float, unit: str = "s", extra: str = "") -> bool:
    ratio = ours / reference
    ok = ratio <= goal
    print(f"{name:<34} ours {ours * 1e3:9.1f} ms  reference {reference * 1e3:9.1f} ms  ratio {ratio:6.2f}x  "
          f"goal <= {goal}x  {'OK' if ok else 'MISSED'}{'  ' + extra if extra else ''}")
    return ok
