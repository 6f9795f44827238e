"""scaling-kb: published neural scaling laws as data, and a calculator over them.

    >>> import kb
    >>> law = kb.get("hoffmann2022.approach3")
    >>> kb.evaluate("hoffmann2022.approach3", N="70B", D="1.4T").output["value"]   # 1.9366...
    >>> kb.optimal("hoffmann2022", [5.76e23]).N                                   # array([3.219e10])

    >>> kb.fit("runs.csv", form="chinchilla", tie={"alpha": "beta"}, bootstrap=200)["params"]

Importing `kb` loads nothing heavy; numpy, sqlmodel and jinja2 load when first needed.
"""

__version__ = "0.1.0"

__all__ = ["get", "evaluate", "optimal", "inverse", "run_checks", "fit", "__version__"]


def __getattr__(name):
    # `kb.fit(data, form="chinchilla", ...)`: the submodule kb.fit is callable (see its end);
    # loaded on first use, so `import kb` stays free of numpy
    if name == "fit":
        import importlib

        return importlib.import_module(".fit", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get(ident: str):
    """A law (by id, e.g. 'hoffmann2022.approach3') or a source (by bibkey), published or the user's."""
    from .lookup import resolve

    return resolve(ident)


def evaluate(ident: str, **inputs):
    """Evaluate a law; inputs in the user's units ('70B', 1.4e12, numpy arrays)."""
    from . import calc
    from .lookup import law

    return calc.evaluate(law(ident), inputs)


def optimal(ident: str, compute):
    """Compute-optimal N and D (and loss where known) for budgets in FLOPs."""
    from . import calc
    from .lookup import resolve_in

    target, cat = resolve_in(ident)
    return calc.optimal(target, compute, cat)


def inverse(ident: str, target, solve_for=None, **given):
    from . import calc
    from .lookup import law

    return calc.inverse(law(ident), str(target), given, solve_for)


def run_checks():
    """Run every published (and user) check: {"passed", "failed", "checks", "inconsistencies"}."""
    from . import check as check_mod
    from .lookup import full_catalog

    return check_mod.summary(check_mod.run_all(full_catalog().laws.values()))
