"""Put two or more laws or sources side by side: forms, constants, conditions, caveats of
comparability, and predictions on a common grid of compute budgets."""

import numpy as np

from . import calc, units, views
from .errors import KbError
from .schema import Law, Source

DEFAULT_BUDGETS = tuple(10.0 ** k for k in range(19, 27))  # 1e19 .. 1e26 FLOP
CONDITION_LABELS = {
    "N_counts": "how N is counted", "compute": "compute convention", "dataset": "dataset",
    "tokenizer": "tokenizer", "loss": "loss definition", "lr_schedule": "learning-rate schedule",
}


def _item(target: "Law | Source", catalog) -> dict:
    if isinstance(target, Source):
        laws = []
        if target.headline_loss:
            laws.append(catalog.law(target.headline_loss))
        for ident in target.headline_allocation.values():
            law = catalog.law(ident)
            if law not in laws:
                laws.append(law)
        return {"id": target.bibkey, "label": target.short, "source": target, "laws": laws}
    source = catalog.sources[target.source]
    return {"id": target.id, "label": f"{source.short}: {target.name}", "source": source, "laws": [target]}


def caveats(items) -> "list[str]":
    """What makes these laws not directly comparable, from their recorded conditions."""
    out = []
    for key, label in CONDITION_LABELS.items():
        values = {}
        for it in items:
            for law in it["laws"]:
                value = law.condition.get(key)
                if value:
                    values.setdefault(it["id"], value)
        if len(set(values.values())) > 1:
            out.append(f"{label[0].upper()}{label[1:]} differs: " + "; ".join(f"{k}: {v}" for k, v in values.items()))
    for it in items:
        for law in it["laws"]:
            for v in law.variables:
                if v.unit in ("PF-days", "PF-day"):
                    out.append(f"{law.id} takes {v.symbol} in PF-days; converted at 1 PF-day = "
                               f"{units.PF_DAY:.3g} FLOP")
            if not law.verified or any(not c.verified for c in law.constants):
                out.append(f"{law.id} includes values not verified in the paper")
            if law.missing_constants:
                out.append(f"{law.id} cannot be evaluated: {', '.join(law.missing_constants)} not available")
    return list(dict.fromkeys(out))


def compare(targets, catalog, budgets=DEFAULT_BUDGETS) -> dict:
    if len(targets) < 2:
        raise KbError("compare needs at least two law ids or sources")
    items = [_item(t, catalog) for t in targets]
    budgets = np.asarray(budgets, dtype=float)
    predictions, warnings = [], []
    for it in items:
        try:
            alloc = calc.optimal(it["source"] if it["id"] == it["source"].bibkey else it["laws"][0], budgets, catalog)
        except KbError as exc:
            predictions.append({"id": it["id"], "label": it["label"], "available": False, "reason": str(exc)})
            continue
        pred = alloc.as_json()
        fitted = _fitted_compute(alloc, it)
        for row, inside in zip(pred["results"], fitted):
            row["in_fitted_range"] = inside
        pred.update(id=it["id"], label=it["label"], available=True)
        predictions.append(pred)
        warnings += alloc.warnings
    ratios = []
    available = [p for p in predictions if p["available"]]
    if len(available) >= 2:
        base = available[0]
        for other in available[1:]:
            rows = []
            for a, b in zip(base["results"], other["results"]):
                rows.append({"compute": a["compute"], "N": _ratio(a["N"], b["N"]), "D": _ratio(a["D"], b["D"]),
                             "loss": _ratio(a["loss"], b["loss"])})
            ratios.append({"numerator": base["id"], "denominator": other["id"], "rows": rows})
    laws = [law for it in items for law in it["laws"]]
    bibkeys = list(dict.fromkeys(it["source"].bibkey for it in items))
    return {
        "items": [{"id": it["id"], "label": it["label"], "source": it["source"].bibkey,
                   "laws": [law.id for law in it["laws"]]} for it in items],
        "laws": [views.law_json(law, catalog.sources.get(law.source)) for law in laws],
        "sources": [views.source_json(catalog.sources[k], catalog.laws_of(k)) for k in bibkeys],
        "relations": [views.relation_json(r) for k in bibkeys for r in catalog.sources[k].relations
                      if r.target.split(".")[0] in bibkeys],
        "caveats": caveats(items),
        "budgets": [float(b) for b in budgets],
        "predictions": predictions,
        "ratios": ratios,
        "warnings": list(dict.fromkeys(warnings)),
    }


def compare_ids(idents, models=None) -> dict:
    """`kb compare ID ID ... [--models a,b]`: the catalog the ids need (published only when it has
    them all); with models, where each sits against each law (`result["models"]`)."""
    from .lookup import catalog_for, full_catalog, resolve

    idents = list(idents)
    if len(idents) < 2:
        raise KbError("compare needs at least two law ids or sources")
    chosen = None
    if models:
        from . import models as models_mod

        chosen = models_mod.get_models(models)  # unknown names fail before any work
    cat = catalog_for(idents[0])
    if not all(cat.has(i) for i in idents):
        cat = full_catalog()
    result = compare([resolve(i) for i in idents], cat)
    if chosen:
        result["models"] = models_mod.compare_overlay(result, chosen, cat)
    return result


def _fitted_compute(alloc, item) -> "list[bool]":
    """Whether each optimum lies inside every fitted range the laws declare (else: extrapolation)."""
    inside = np.ones(len(alloc.compute), dtype=bool)
    for law in item["laws"]:
        for v in law.variables:
            if not v.fitted:
                continue
            dim = units.dimension(v.unit)
            values = {"params": alloc.N, "tokens": alloc.D, "compute": alloc.compute}.get(dim)
            if values is None:
                continue
            native = units.to_native(np.asarray(values, dtype=float), None, v.unit, v.symbol)
            inside &= (native >= v.fitted[0]) & (native <= v.fitted[1])
    return inside.tolist()


def _ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def plot_series(result: dict, field: str) -> list:
    return [{"label": p["label"], "x": [r["compute"] for r in p["results"]], "y": [r[field] for r in p["results"]],
             "solid": [r["in_fitted_range"] for r in p["results"]]}
            for p in result["predictions"] if p["available"] and any(r[field] for r in p["results"])]


def plots(result: dict) -> dict:
    """The comparison's log-log charts (SVG text): N_opt, D_opt and loss at the optimum vs compute."""
    from . import svgplot

    xlabel = "training compute C (FLOP)"
    points = (result.get("models") or {}).get("points") or {}  # real models, from `--models`
    return {
        "plot_n": svgplot.loglog(plot_series(result, "N"), "Compute-optimal model size N_opt(C)", xlabel,
                                 "N_opt (parameters)", points=points.get("N", ())),
        "plot_d": svgplot.loglog(plot_series(result, "D"), "Compute-optimal training tokens D_opt(C)", xlabel,
                                 "D_opt (tokens)", points=points.get("D", ())),
        "plot_loss": svgplot.loglog(plot_series(result, "loss"), "Loss at the compute-optimal allocation", xlabel,
                                    "loss (nats/token)", points=points.get("loss", ())),
    }


def document(result: dict, fmt: str, template_dir=None, **extra) -> str:
    """The comparison as a self-contained HTML page, Markdown, or a LaTeX document.

    `extra` reaches the template (the static site passes `home`, a link back to its index)."""
    from . import __version__, cite, render

    keys = [s["bibkey"] for s in result["sources"]]
    known = set(cite.keys())
    references = [cite.reference(k) for k in keys if k in known]
    cites = {k: cite.author_year(k) if k in known else k for k in keys}
    title = "Scaling laws compared: " + " vs ".join(i["label"] for i in result["items"])
    context = dict(result=result, references=references, cites=cites, title=title, version=__version__,
                   home=None, json_twin=None)
    context.update(extra)
    if fmt == "html":
        from markupsafe import Markup

        context.update({k: Markup(v) for k, v in plots(result).items()})
        return render.render("compare.html.j2", "html", template_dir, **context)
    if fmt == "tex":
        from types import SimpleNamespace

        context["bibitems"] = []
        for src in result["sources"]:
            if src["bibkey"] in known:
                context["bibitems"].append(cite.bibitem(src["bibkey"]))
            else:  # a user's source: its own fields
                ref = cite.from_source(SimpleNamespace(**{k: v or "" for k, v in src.items()}))
                context["bibitems"].append({**ref, "short": ref["cite"].rsplit(" (", 1)[0],
                                            "long": ", ".join(ref["authors"])})
        return render.render("compare.tex.j2", "tex", template_dir, **context)
    if fmt == "md":
        return render.render("compare.md.j2", "md", template_dir, **context)
    raise KbError(f"unknown report format '{fmt}'")
