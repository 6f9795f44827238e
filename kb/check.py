"""Reproduce every number a paper prints that follows from its own constants.

A check's expression is written in the formula language over the law's constants and `where`
names, plus four functions in the law's native units: law(NAME=value, ...) evaluates the law,
N_opt(C), D_opt(C), L_opt(C) give the numeric optimum of a loss law on C = 6ND (of a
tabulated allocation: its interpolated columns).
"""

import math
from dataclasses import dataclass

import numpy as np

from . import calc
from . import formula as formula_lang
from .schema import Check, Law


@dataclass
class Outcome:
    check: Check
    got: "float | None"
    ok: bool
    error: str = ""

    def as_json(self) -> dict:
        c = self.check
        return {"law": c.law, "label": c.label, "location": c.location, "expr": c.expr,
                "expected": c.expect, "compare": c.compare, "tolerance": c.tolerance,
                "got": self.got, "ok": self.ok, "note": c.note, "error": self.error or None,
                "inconsistent": c.inconsistent}


def _functions(law: Law) -> dict:
    def law_fn(**inputs):
        return calc.native_eval(law, inputs)[0]

    def opt(index):
        def fn(C):
            if law.table is not None:  # a tabulated allocation: its own columns, not an optimum
                main, extra = calc.native_eval(law, {law.variables[0].symbol: float(C)})
                return main if index == 0 else extra[("N_opt", "D_opt", "L_opt")[index]]
            return calc.native_optimum(law, np.array([float(C)]))[index][0]
        return fn

    return {"law": law_fn, "N_opt": opt(0), "D_opt": opt(1), "L_opt": opt(2)}


def run_check(law: Law, check: Check) -> Outcome:
    env = calc.constant_env(law)
    try:
        expr = formula_lang.parse(check.expr, set(env), extra_calls=tuple(_functions(law)))
        got = float(expr({**env, **_functions(law)}))
    except Exception as exc:  # a check that cannot run is a failed check, reported, not a crash
        return Outcome(check, None, False, f"{type(exc).__name__}: {exc}")
    if not math.isfinite(got):
        return Outcome(check, None, False, "result is not finite")
    expect = float(check.expect)
    tol = check.tolerance
    if check.compare == "<=":
        ok = got <= expect + tol
    elif check.compare == ">=":
        ok = got >= expect - tol
    else:
        ok = abs(got - expect) <= tol * (1 + 1e-12)
    return Outcome(check, got, ok)


def run_all(laws) -> "list[Outcome]":
    return [run_check(law, check) for law in laws for check in law.checks]


def summary(outcomes) -> dict:
    """Counts over the real checks; recorded inconsistencies are listed apart."""
    real = [o for o in outcomes if not o.check.inconsistent]
    passed = sum(o.ok for o in real)
    return {"passed": passed, "failed": len(real) - passed, "checks": [o.as_json() for o in real],
            "inconsistencies": [o.as_json() for o in outcomes if o.check.inconsistent]}
