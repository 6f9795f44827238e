"""`kb table ID...`: the constants of laws as a table for a paper (LaTeX booktabs with
`\\citet{bibkey}` keys of references.bib, Markdown, or CSV).

An id may be a law or a source; a source stands for its headline laws (or, when it names
none, for its laws that have constants). Values are the printed strings, with their
uncertainty or interval as printed and the place in the paper.
"""

import csv
import io

from . import __version__
from .errors import KbError

FORMATS = ("latex", "md", "csv")


def laws_for(idents, catalog) -> list:
    from .lookup import resolve

    laws = []
    for ident in idents:
        target = resolve(ident)
        if hasattr(target, "formula"):
            chosen = [target]
        else:
            ids = ([target.headline_loss] if target.headline_loss else []) + list(target.headline_allocation.values())
            chosen = [catalog.law(i) for i in ids] or [law for law in catalog.laws_of(target.bibkey) if law.constants]
            if not chosen:
                raise KbError(f"{ident} has no headline law and no law with constants; give law ids")
        for law in chosen:
            if all(law.id != other.id for other in laws):
                laws.append(law)
    return laws


def table_data(idents) -> dict:
    """The table as data (what `kb table --json` prints)."""
    from . import cite
    from .lookup import full_catalog, catalog_for

    idents = list(idents)
    if not idents:
        raise KbError("table needs at least one law id or source")
    catalog = catalog_for(idents[0])
    if not all(catalog.has(i) for i in idents):
        catalog = full_catalog()
    laws = laws_for(idents, catalog)
    known = set(cite.keys())
    out, skipped = [], []
    for law in laws:
        if not law.constants:
            skipped.append(law.id)
            continue
        source = catalog.sources[law.source]
        out.append({
            "id": law.id, "name": law.name, "title": law.title, "kind": law.kind, "bibkey": law.source,
            "cite": cite.author_year(law.source) if law.source in known else f"{source.short or law.source} ({source.year})",
            "in_references_bib": law.source in known, "latex": law.latex or None, "location": law.location,
            "verified": law.verified,
            "constants": [{"symbol": c.symbol, "value": c.printed, "uncertainty": c.uncertainty or None,
                           "interval": list(c.interval) if c.interval else None, "unit": c.unit or None,
                           "location": c.location, "verified": c.verified, "missing": c.missing}
                          for c in law.constants],
        })
    if not out:
        raise KbError(f"none of {', '.join(idents)} has constants to tabulate")
    return {"ids": idents, "laws": out, "skipped": skipped}


def render_table(data: dict, fmt: str, template_dir=None) -> str:
    if fmt not in FORMATS:
        raise KbError(f"unknown format '{fmt}'; use latex, md or csv")
    if fmt == "csv":
        from .render import csv_cell

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["law", "bibkey", "constant", "value", "uncertainty", "interval_low", "interval_high", "unit",
                    "location", "verified"])
        for law in data["laws"]:
            for c in law["constants"]:
                lo, hi = c["interval"] or ("", "")
                w.writerow([csv_cell(v) for v in (
                    law["id"], law["bibkey"], c["symbol"], "" if c["missing"] else c["value"],
                    c["uncertainty"] or "", lo, hi, c["unit"] or "", c["location"],
                    "yes" if c["verified"] and law["verified"] else "no")])
        return buf.getvalue()
    from . import render

    template, kind = ("table.tex.j2", "tex") if fmt == "latex" else ("table.md.j2", "md")
    return render.render(template, kind, template_dir, data=data, version=__version__,
                         command="kb table " + " ".join(data["ids"]))
