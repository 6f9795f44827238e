"""JSON-able views of sources and laws: what `--json` prints and what reports render.

Every HTML page has a JSON twin built from the same view, so a report and a script see the
same data.
"""

from .schema import Constant, Law, Source


def constant_json(c: Constant) -> dict:
    return {
        "value": c.printed, "uncertainty": c.uncertainty or None,
        "interval": list(c.interval) if c.interval else None, "interval_note": c.interval_note or None,
        "unit": c.unit or None, "location": c.location, "verified": c.verified, "missing": c.missing,
        "note": c.note or None,
        "alternatives": [{"value": a.value, "location": a.location, "note": a.note or None} for a in c.alternatives],
    }


def law_json(law: Law, source: "Source | None" = None) -> dict:
    out = {
        "id": law.id, "source": law.source, "name": law.name, "title": law.title, "kind": law.kind,
        "verified": law.verified, "origin": law.origin,
        "predicts": {"symbol": law.predicts.symbol, "quantity": law.predicts.quantity, "unit": law.predicts.unit},
        "formula": law.formula or None, "latex": law.latex or None, "location": law.location,
        "variables": {v.symbol: {"meaning": v.meaning, "unit": v.unit, "fitted": list(v.fitted) if v.fitted else None}
                      for v in law.variables},
        "constants": {c.symbol: constant_json(c) for c in law.constants},
        "where": dict(law.where),
        "outputs": {o.symbol: {"formula": o.formula, "quantity": o.quantity, "unit": o.unit} for o in law.outputs},
        "conditions": dict(law.conditions),
        "checks": [{"label": c.label, "location": c.location, "expr": c.expr, "expect": c.expect,
                    "inconsistent": c.inconsistent, "note": c.note or None} for c in law.checks],
        "notes": [{"text": n.text, "location": n.location or None} for n in law.notes],
        "claims": [{"text": n.text, "location": n.location or None} for n in law.claims],
        "tags": list(law.tags), "aliases": list(law.aliases),
        "table": ({"columns": list(law.table.columns), "rows": [list(r) for r in law.table.rows],
                   "location": law.table.location, "note": law.table.note or None} if law.table else None),
        "budget": ({"formula": law.budget.formula, "location": law.budget.location, "note": law.budget.note or None}
                   if law.budget else None),
    }
    if source is not None:
        out["relations"] = [relation_json(r) for r in source.relations
                            if r.source in (law.id, law.source)]
    return out


def relation_json(r) -> dict:
    return {"from": r.source, "kind": r.kind, "to": r.target, "note": r.note or None}


def source_json(source: Source, laws: "list[Law]", incoming=()) -> dict:
    return {
        "bibkey": source.bibkey, "short": source.short, "title": source.title, "authors": list(source.authors),
        "year": source.year, "arxiv": source.arxiv or None, "url": source.url or None, "venue": source.venue or None,
        "verified": source.verified, "origin": source.origin,
        "headline": {"loss": source.headline_loss or None, "allocation": source.headline_allocation or None,
                     "why": source.headline_why or None, "approaches": list(source.approaches)},
        "aliases": list(source.aliases),
        "notes": [{"text": n.text, "location": n.location or None} for n in source.notes],
        "inconsistencies": [{"text": n.text, "location": n.location or None} for n in source.inconsistencies],
        "relations": [relation_json(r) for r in source.relations],
        "related_from": [relation_json(r) for r in incoming],
        "laws": [law.id for law in laws],
    }


def incoming_relations(catalog, ident: str) -> list:
    """Relations other sources declare towards `ident` (a bibkey or a law id)."""
    bibkey = ident.split(".")[0]
    return [r for s in catalog.sources.values() if s.bibkey != bibkey for r in s.relations
            if r.target == ident or r.target.split(".")[0] == bibkey]


def show_json(target: "Law | Source", catalog) -> dict:
    """What `kb show ID --json` prints (and a report page's JSON twin): a law or a source."""
    if isinstance(target, Law):
        data = law_json(target, catalog.sources[target.source])
        data["related_from"] = [relation_json(r) for r in incoming_relations(catalog, target.id)]
        return data
    return source_json(target, catalog.laws_of(target.bibkey), incoming_relations(catalog, target.bibkey))


def status(law: Law) -> str:
    """How far a law is vouched for: read in its paper (verified / unverified), fitted by you
    (kb fit --save), or added by you (kb add). A fit is never 'verified': no paper printed it."""
    if law.origin == "user":
        return "fitted" if "user-fit" in law.tags else "user"
    return "verified" if law.verified else "unverified"


def list_json(laws: "list[Law]") -> dict:
    """What `kb list --json` prints (and the report index's JSON twin)."""
    return {"count": len(laws), "sources": sorted({law.source for law in laws}),
            "laws": [{"id": law.id, "kind": law.kind, "title": law.title, "predicts": law.predicts.symbol,
                      "verified": law.verified and law.origin != "user", "status": status(law),
                      "origin": law.origin, "location": law.location} for law in laws]}


def strict(obj):
    """NaN/inf -> null, numpy arrays and scalars -> lists and floats: strict JSON values."""
    import math

    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return strict(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def json_text(obj) -> str:
    """The one JSON rendering every command and every report twin uses."""
    import json

    return json.dumps(strict(obj), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
