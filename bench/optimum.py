"""The numeric compute-optimal allocation for 1e6 budgets against Chinchilla's eq. (4) closed form.

Goals (issue 8): 1e6 budgets in <= 2 s, within 1e-6 relative of the closed form. The ratio
printed is against the closed form's own time (no goal: it is the floor)."""

import sys

import numpy as np

from common import median_time, report


def main() -> bool:
    from kb import calc
    from kb.catalog import published

    cat = published()
    law = cat.law("hoffmann2022.approach3")
    closed = calc.compiled(cat.law("hoffmann2022.approach3_allocation"))
    budgets = np.logspace(18, 27, 1_000_000)
    ours = median_time(lambda: calc.native_optimum(law, budgets), repeat=3)
    reference = median_time(lambda: closed.main(closed.env({"C": budgets})), repeat=3)
    n = calc.native_optimum(law, budgets)[0]
    error = float(np.max(np.abs(n / closed.main(closed.env({"C": budgets})) - 1)))
    ok = ours <= 2.0 and error <= 1e-6
    print(f"{'optimum: 1e6 budgets vs eq. (4)':<34} ours {ours * 1e3:9.1f} ms  closed form {reference * 1e3:9.1f} ms  "
          f"ratio {ours / reference:6.1f}x  max rel error {error:.1e}  goal <= 2 s and <= 1e-6  {'OK' if ok else 'MISSED'}")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
