"""Evaluating a law on 1e6 points against the hand-written numpy expression (goal <= 1.5x)."""

import sys

import numpy as np

from common import median_time, report


def main() -> bool:
    from kb import calc
    from kb.catalog import published

    law = published().law("hoffmann2022.approach3")
    n = np.logspace(7, 12, 1_000_000)
    d = np.logspace(9, 14, 1_000_000)
    E, A, B, alpha, beta = (law.constant(s).value for s in ("E", "A", "B", "alpha", "beta"))

    def hand_written():
        return E + A / n**alpha + B / d**beta

    def ours():
        return calc.native_eval(law, {"N": n, "D": d})[0]

    assert np.array_equal(hand_written(), ours())
    return report("eval: 1e6 points, approach3", median_time(ours), median_time(hand_written), 1.5)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
