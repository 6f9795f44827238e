"""Put two or more laws or sources side by side: forms, constants, conditions, caveats of
comparability, and predictions on a common grid of compute budgets."""

import re

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
        for ident in (*target.headline_allocation.values(), *target.approaches):
            law = catalog.law(ident)
            if law not in laws:
                laws.append(law)
        return {"id": target.bibkey, "label": target.short, "source": target, "laws": laws}
    source = catalog.sources[target.source]
    return {"id": target.id, "label": f"{source.short}: {target.name}", "source": source, "laws": [target]}


_AS_IN = re.compile(r"\bas in ([a-z][a-z0-9_-]*[0-9]{4}[a-z]?)\b")
_REMARK = re.compile(r"\([^()]*\)|,?\s*\bas in [a-z][a-z0-9_-]*[0-9]{4}[a-z]?\b")


def _core(value: str) -> str:
    """A condition without its parenthesised remarks and 'as in <source>' clauses, for comparing."""
    return " ".join(_REMARK.sub(" ", value).split()).strip(" ,;").lower()


def _same_conditions(values: "dict[str, str]", sources: "dict[str, str]") -> bool:
    """Whether the items' values of one condition say the same thing: equal once remarks are
    dropped, or declared 'as in <bibkey>' of another item being compared."""
    by_source = {sources[k]: v for k, v in values.items()}
    canon = set()
    for k, v in values.items():
        ref = _AS_IN.search(v)
        if ref and ref.group(1) in by_source and ref.group(1) != sources[k]:
            v = by_source[ref.group(1)]
        canon.add(_core(v))
    return len(canon) <= 1


def caveats(items) -> "list[str]":
    """What makes these laws not directly comparable, from their recorded conditions. A condition
    that is the same, or declared 'as in <other source>', is not a difference."""
    out = []
    sources = {it["id"]: it["source"].bibkey for it in items}
    for key, label in CONDITION_LABELS.items():
        values = {}
        for it in items:
            for law in it["laws"]:
                value = law.condition.get(key)
                if value:
                    values.setdefault(it["id"], value)
        if len(values) > 1 and not _same_conditions(values, sources):
            out.append(f"{label[0].upper()}{label[1:]} differs: " + "; ".join(f"{k}: {v}" for k, v in values.items()))
    grouped = {}  # one line per conversion, naming every law it applies to
    for it in items:
        for law in it["laws"]:
            if law.budget is not None:
                sym = variable_compute(law)
                grouped.setdefault(f"written in {sym}, not the FLOPs a run spends: converted with {sym} = "
                                   f"{law.budget.formula} ({law.budget.location})", []).append(law.id)
            for v in law.variables:
                if v.unit in ("PF-days", "PF-day"):
                    grouped.setdefault(f"take {v.symbol} in PF-days; converted at 1 PF-day = {units.PF_DAY:.3g} FLOP",
                                       []).append(law.id)
    out += [f"{', '.join(dict.fromkeys(ids))}: {text}" for text, ids in grouped.items()]
    for it in items:
        for law in it["laws"]:
            if not law.verified or any(not c.verified for c in law.constants):
                out.append(f"{law.id} includes values not verified in the paper")
            if law.missing_constants:
                out.append(f"{law.id} cannot be evaluated: {', '.join(law.missing_constants)} not available")
    return list(dict.fromkeys(out))


def variable_compute(law: Law) -> str:
    var = calc.variable_of(law, "compute")
    return var.symbol if var is not None else "C"


def _loss_comparable(caveat_list) -> "str | None":
    """Why the loss ratio does not compare like with like (None when it does)."""
    differing = [c.split(" differs")[0].lower() for c in caveat_list
                 if c.split(" differs")[0] in ("Dataset", "Tokenizer", "Loss definition")]
    if not differing:
        return None
    return (f"{', '.join(differing)} differ: the losses are measured on different scales, so their ratio "
            "is not a like-for-like comparison")


def _predictions_of(it, catalog, budgets) -> "list[tuple[str, str, object]]":
    """(id, label, Allocation or KbError) for one item: a law, or a source's headline allocation
    followed by the other approaches the source declares."""
    source = it["source"]
    if it["id"] != source.bibkey:
        return [(it["id"], it["label"], _try(lambda: calc.optimal(it["laws"][0], budgets, catalog)))]
    out = [(it["id"], f"{it['label']} (headline)" if source.approaches else it["label"],
            _try(lambda: calc.optimal(source, budgets, catalog)))]
    headline = set(source.headline_allocation.values()) or {source.headline_loss}
    for ident in source.approaches:
        if ident in headline:
            continue
        law = catalog.law(ident)
        out.append((ident, f"{it['label']}: {law.name}",
                    _try(lambda law=law: calc.with_headline_loss(calc.optimal(law, budgets, catalog), source, catalog))))
    return out


def _try(fn):
    try:
        return fn()
    except KbError as exc:
        return exc


def compare(targets, catalog, budgets=DEFAULT_BUDGETS) -> dict:
    if len(targets) < 2:
        raise KbError("compare needs at least two law ids or sources")
    items = [_item(t, catalog) for t in targets]
    budgets = np.asarray(budgets, dtype=float)
    caveat_list = caveats(items)
    predictions, warnings, notices = [], [], []
    for index, it in enumerate(items):
        preds = _predictions_of(it, catalog, budgets)
        for ident, label, alloc in preds:
            if isinstance(alloc, KbError):
                predictions.append({"id": ident, "label": label, "available": False, "reason": str(alloc)})
                continue
            pred = alloc.as_json()
            fitted = _fitted_compute(alloc, it)
            for row, inside in zip(pred["results"], fitted):
                row["in_fitted_range"] = inside
            pred.update(id=ident, label=label, available=True, item=index,
                        headline=ident == it["source"].bibkey and bool(it["source"].approaches))
            over = [r["compute"] for r in pred["results"] if r["over_budget"]]
            if over:
                pred["warnings"] = pred["warnings"] + [
                    f"{ident} spends more than the budget at C = {', '.join(f'{c:.3g}' for c in over)} "
                    f"(6ND / C up to {max(r['spent_over_budget'] for r in pred['results']):.3g})"]
            predictions.append(pred)
            warnings += pred["warnings"]
        if not any(p["available"] for p in predictions if p["id"] in {i for i, _, _ in preds}):
            notices.append(f"{it['id']} has no law comparable on a compute grid: "
                           + "; ".join(str(a) for _, _, a in preds if isinstance(a, KbError)))
    ratios = []
    available = [p for p in predictions if p["available"]]
    loss_note = _loss_comparable(caveat_list)
    base = next((p for p in available if p["item"] == 0), None)
    for other in available:
        if base is None or other["item"] == 0:
            continue
        rows = []
        for a, b in zip(base["results"], other["results"]):
            rows.append({"compute": a["compute"], "N": _ratio(a["N"], b["N"]), "D": _ratio(a["D"], b["D"]),
                         "loss": _ratio(a["loss"], b["loss"]),
                         "spent": _ratio(a["flops_spent"], b["flops_spent"])})
        ratios.append({"numerator": base["id"], "denominator": other["id"], "rows": rows,
                       "loss_comparable": loss_note is None, "loss_note": loss_note})
    laws = [law for it in items for law in it["laws"]]
    bibkeys = list(dict.fromkeys(it["source"].bibkey for it in items))
    return {
        "items": [{"id": it["id"], "label": it["label"], "source": it["source"].bibkey,
                   "laws": [law.id for law in it["laws"]]} for it in items],
        "notices": notices,
        "headlines": [_headline(catalog.sources[k]) for k in bibkeys if isinstance(_source_target(items, k), Source)],
        "laws": [views.law_json(law, catalog.sources.get(law.source)) for law in laws],
        "sources": [views.source_json(catalog.sources[k], catalog.laws_of(k)) for k in bibkeys],
        "relations": [views.relation_json(r) for k in bibkeys for r in catalog.sources[k].relations
                      if r.target.split(".")[0] in bibkeys],
        "caveats": caveat_list,
        "budgets": [float(b) for b in budgets],
        "predictions": predictions,
        "ratios": ratios,
        "warnings": list(dict.fromkeys(warnings)),
    }


def _source_target(items, bibkey):
    return next((it["source"] for it in items if it["id"] == bibkey), None)


def _headline(source: Source) -> dict:
    """Which law is the source's headline, and why (as the law file says), with the paper's
    recorded inconsistencies: a reader of the report sees them in its body."""
    alloc = source.headline_allocation
    return {"source": source.bibkey, "label": source.short, "loss": source.headline_loss or None,
            "allocation": alloc.get("law") or " + ".join(alloc.get(k) for k in ("N", "D") if alloc.get(k)) or None,
            "why": source.headline_why or None, "approaches": list(source.approaches),
            "inconsistencies": [{"text": n.text, "location": n.location or None} for n in source.inconsistencies]}


def compare_ids(idents, budgets=DEFAULT_BUDGETS, models=None) -> dict:
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
    result = compare([resolve(i) for i in idents], cat, budgets)
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


def plot_series(result: dict, field: str, one_per_item: bool = False) -> list:
    """Series of one field; `one_per_item` keeps each compared item's first (headline) series only."""
    seen, out = set(), []
    for p in result["predictions"]:
        if not p["available"] or not any(r[field] for r in p["results"]) or (one_per_item and p["item"] in seen):
            continue
        seen.add(p["item"])
        out.append({"label": p["label"], "x": [r["compute"] for r in p["results"]], "y": [r[field] for r in p["results"]],
                    "solid": [r["in_fitted_range"] for r in p["results"]]})
    return out


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
        "plot_loss": svgplot.loglog(plot_series(result, "loss", one_per_item=True), "Loss at the compute-optimal allocation",
                                    xlabel, "loss (nats/token)", points=points.get("loss", ())),
    }


def shared_conditions(result: dict) -> "tuple[dict, dict]":
    """Conditions every compared law of a source shares (shown once per source), and per law
    the ones it adds or changes."""
    shared = {}
    for law in result["laws"]:
        mine = law["conditions"]
        if law["source"] not in shared:
            shared[law["source"]] = dict(mine)
        else:
            shared[law["source"]] = {k: v for k, v in shared[law["source"]].items() if mine.get(k) == v}
    own = {law["id"]: {k: v for k, v in law["conditions"].items() if shared[law["source"]].get(k) != v}
           for law in result["laws"]}
    return shared, own


def document(result: dict, fmt: str, template_dir=None, **extra) -> str:
    """The comparison as a self-contained HTML page, Markdown, or a LaTeX document.

    `extra` reaches the template (the static site passes `home`, a link back to its index)."""
    from . import __version__, cite, render

    keys = [s["bibkey"] for s in result["sources"]]
    known = set(cite.keys())
    references = [cite.reference(k) for k in keys if k in known]
    cites = {k: cite.author_year(k) if k in known else k for k in keys}
    title = "Scaling laws compared: " + " vs ".join(i["label"] for i in result["items"])
    shared, own = shared_conditions(result)
    context = dict(result=result, references=references, cites=cites, title=title, version=__version__,
                   home=None, json_twin=None, shared_conditions=shared, own_conditions=own)
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
