"""Famous trained models as data: their parameters, tokens and FLOPs as their papers print them.

A model is stored in the law file of the paper that introduced it (a `[[model]]` table) when
that paper is a source here, else in `laws/models.toml` with its source bibkey. The validator
is `schema.load_models_tables`; this module gathers the models, finds one by name or alias,
evaluates a law at a model's N and D, and says what makes a law and a model not comparable.
"""

import re
from functools import lru_cache

from . import resources
from .errors import BadFile, UnknownId
from .schema import Figure, Model  # noqa: F401  (Model is part of this module's interface)


@lru_cache(maxsize=1)
def load_models() -> "list[Model]":
    """Every stored model: the law files' [[model]] tables, then laws/models.toml."""
    from . import catalog
    from .schema import load_models_document, parse_toml

    models = [m for source in catalog.published().sources.values() for m in source.models]
    path = resources.laws_dir() / catalog.MODELS_FILE
    if path.exists():
        models += load_models_document(parse_toml(path.read_text(encoding="utf-8"), path.name), path.name)
    seen = {}
    for m in models:
        for key in (m.name, *m.aliases):
            if key in seen:
                raise BadFile(f"model name '{key}' is used by both {seen[key]} and {m.name}")
            seen[key] = m.name
    return sorted(models, key=lambda m: (m.flops, m.name))


def get_model(name: str) -> Model:
    """A model by name or alias, case-insensitive, spaces and underscores read as hyphens, and
    hyphens optional: 'Llama 3 405B', 'llama3_405b' and 'LLaMA3-405B' all find llama3-405b."""
    key = re.sub(r"[\s_]+", "-", name.strip().lower())
    names = {}
    for m in load_models():
        for k in (m.name, *m.aliases):
            names[k] = m
            names.setdefault(k.replace("-", ""), m)
    found = names.get(key) or names.get(key.replace("-", ""))
    if found is None:
        raise UnknownId("model", name, [m.name for m in load_models()] + [a for m in load_models() for a in m.aliases])
    return found


def get_models(names) -> "list[Model]":
    """`--models gpt3,chinchilla`: each name resolved, duplicates dropped, order kept."""
    out = []
    for item in names:
        for name in str(item).split(","):
            if name.strip():
                m = get_model(name)
                if m not in out:
                    out.append(m)
    if not out:
        from .errors import KbError

        raise KbError("--models needs model names, e.g. gpt3,chinchilla (see kb models)")
    return out


# ----------------------------------------------------------------------------- views


def figure_json(f: Figure) -> dict:
    return {"value": float(f.value), "printed": f.printed or f.value, "location": f.location,
            "verified": f.verified, "note": f.note}


def model_json(m: Model) -> dict:
    figures = {f.quantity: figure_json(f) for f in m.figures}
    if m.flops_derived:
        figures["flops"] = {"value": m.flops, "printed": None, "location": "derived: 6 * params * tokens",
                            "verified": False, "note": "not stored (not printed in the source, or not read there); computed here as 6ND"}
    return {
        "name": m.name, "display": m.display, "aliases": list(m.aliases), "params": m.params,
        "params_nonembedding": m.params_nonembedding, "tokens": m.tokens, "flops": m.flops,
        "flops_derived": m.flops_derived, "tokens_per_param": m.tokens / m.params, "tokenizer": m.tokenizer,
        "dataset": m.dataset or None, "source": m.source, "location": m.location, "verified": m.verified,
        "figures": figures, "notes": [{"text": n.text, "location": n.location} for n in m.notes],
    }


def models_json(models=None) -> dict:
    models = load_models() if models is None else models
    return {"count": len(models), "models": [model_json(m) for m in models]}


# ----------------------------------------------------------------------------- a law at a model


def counts_nonembedding(law) -> bool:
    """Whether the law's N counts non-embedding parameters (Kaplan) rather than all of them."""
    text = law.condition.get("N_counts", "").lower()
    return "non-embedding" in text and not text.startswith("total")


def model_inputs(law, model: Model, given=()) -> "tuple[dict, list[str]]":
    """The law's inputs taken from the model (N, D, C by dimension), and the caveats of doing so.
    Variables the user gives (`given`) are left to the user."""
    from . import units

    inputs, notes = {}, []
    nonemb = counts_nonembedding(law)
    for v in law.variables:
        if v.symbol in given:
            continue
        dim = units.dimension(v.unit)
        if dim == "params":
            if nonemb and model.params_nonembedding is not None:
                inputs[v.symbol] = model.params_nonembedding
                notes.append(f"{law.id} at {model.display}: {v.symbol} = {model.params_nonembedding:.4g}, the "
                             f"model's non-embedding parameters, as the law counts them")
            else:
                inputs[v.symbol] = model.params
                if nonemb:
                    notes.append(f"{law.id} at {model.display}: the law counts non-embedding parameters; the "
                                 f"model's non-embedding count is not stored, so its total {model.params:.4g} is "
                                 f"used (overstates N)")
        elif dim == "tokens" and (v.symbol == "D" or sum(units.dimension(w.unit) == "tokens"
                                                         for w in law.variables) == 1):
            inputs[v.symbol] = model.tokens
        elif dim == "compute":
            inputs[v.symbol] = model.flops
            if model.flops_derived:
                notes.append(f"{law.id} at {model.display}: the model's training FLOPs are not printed; "
                             f"{v.symbol} = 6ND = {model.flops:.3g} is used")
    return inputs, notes


def caveats(law, model: Model) -> "list[str]":
    """What makes a law fitted on its own runs not directly applicable to this model."""
    cond = law.condition
    at = f"{law.id} at {model.display}"
    out = []
    if cond.get("dataset") and model.dataset:
        out.append(f"{at}: the law was fitted on {cond['dataset']}; the model was trained on {model.dataset}")
    if model.tokenizer:
        out.append(f"{at}: tokenizer of the law: {cond.get('tokenizer') or 'not recorded'}; of the model: "
                   f"{model.tokenizer} (a loss per token depends on it)")
    text = cond.get("N_counts", "")
    if text and not counts_nonembedding(law) and not text.lower().startswith("total"):
        out.append(f"{at}: the law counts N as '{text}'; the model's {model.params:.4g} is its total")
    if model.source != law.source:
        out.append(f"{at}: not one of {law.source}'s own runs (another architecture, schedule and data mix)")
    unverified = [f.quantity for f in model.figures if not f.verified]
    if unverified:
        out.append(f"{model.display}: {', '.join(unverified)} not verified in {model.source}")
    return out


def evaluate_at(law, model: Model, raw_inputs=None):
    """`kb eval LAW --model NAME`: the law at the model's N and D (and C); the user's NAME=VALUE win."""
    from . import calc

    raw_inputs = dict(raw_inputs or {})
    inputs, notes = model_inputs(law, model, given=raw_inputs)
    result = calc.evaluate(law, {**inputs, **raw_inputs})
    data = result.as_json()
    data["model"] = model_json(model)
    data["caveats"] = notes + caveats(law, model)
    return result, data


# ----------------------------------------------------------------------------- compare overlay


def _loss_law(law_ids, catalog):
    """The loss law of N and D among a compared item's laws (where a model's loss can be read)."""
    from .calc import nd_variables

    for ident in law_ids:
        law = catalog.laws.get(ident)
        if law is not None and law.kind == "loss" and all(nd_variables(law)) and not law.missing_constants:
            return law
    return None


def compare_overlay(result: dict, chosen, catalog) -> dict:
    """`kb compare ... --models a,b`: where each model sits against each compared law.

    N and D markers sit at the model's training FLOPs; a loss marker is the law evaluated at the
    model's own N and D (not the model's measured loss, which no source here prints)."""
    import math

    from .errors import KbError

    rows, points = [], {"N": [], "D": [], "loss": []}
    plotted = [p["label"] for p in result["predictions"] if p["available"]]
    for m in chosen:
        points["N"].append({"label": m.display, "x": m.flops, "y": m.params, "series": None})
        points["D"].append({"label": m.display, "x": m.flops, "y": m.tokens, "series": None})
        for item in result["items"]:
            law = _loss_law(item["laws"], catalog)
            row = {"model": m.name, "item": item["id"], "law": law.id if law else None, "loss": None,
                   "caveats": [], "warnings": []}
            if law is not None:
                try:
                    _, data = evaluate_at(law, m)
                    value = data["output"]["value"]
                    row.update(loss=value if isinstance(value, float) and math.isfinite(value) else None,
                               caveats=data["caveats"], warnings=data["warnings"])
                except KbError as exc:  # a law that needs more than N and D (e.g. unique tokens U)
                    row["warnings"] = [str(exc)]
            rows.append(row)
            if row["loss"] is not None:
                series = plotted.index(item["label"]) if item["label"] in plotted else None
                points["loss"].append({"label": m.display, "x": m.flops, "y": row["loss"], "series": series})
    return {"models": [model_json(m) for m in chosen], "losses": rows, "points": points}
