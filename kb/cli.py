"""The `kb` command line: parses arguments, calls the library, prints. Nothing else lives here.

Heavy modules (numpy, sqlmodel, jinja2) are imported inside the commands that need them, so
`kb --help` stays instant. Bad input exits 2 with one line on stderr; `--json` prints one
JSON document on stdout and nothing else.
"""

import contextlib
import errno
import json
import math
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import KbError

app = typer.Typer(
    name="kb", no_args_is_help=True, add_completion=True, rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="A knowledge base of published neural scaling laws, and a calculator over it.\n\n"
         "Numbers are in parameters, tokens and FLOPs (70B, 1.4T, 5.76e23, '6666 PF-days'). "
         "Every command takes --json. Example: kb compare kaplan2020 hoffmann2022 --html report.html",
)

JSON_HELP = "Print one JSON document on stdout and nothing else."


# ----------------------------------------------------------------------------- output helpers


def _clean(obj):
    """NaN/inf -> null and numpy scalars -> floats, so the output is strict JSON."""
    from .views import strict

    return strict(obj)


def emit_json(obj) -> None:
    from .views import json_text

    sys.stdout.write(json_text(obj))


def safe_text(message) -> str:
    """What a message may show: the database URL's secrets hidden (kb.redact); control
    characters are escaped for all output by kb.printable."""
    from .redact import redact_text

    return redact_text(str(message), os.environ.get("KB_DATABASE_URL"))


def warn(messages) -> None:
    for m in messages:
        typer.echo(f"warning: {safe_text(m)}", err=True)


def g(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return "[" + ", ".join(g(v, digits) for v in value) + "]"
    return f"{value:.{digits}g}"


def table(headers, rows) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Every file a command writes goes through kb.safe_write (temp file + rename, no links followed)."""
    from .safe_write import write_text

    write_text(path, text)


def parse_assignments(pairs, sweep: bool = True) -> dict:
    """['N=70B', 'D=1e12,2e12'] -> {'N': '70B', 'D': array([...])}. `sweep=False`: the command
    takes one value per name, and a comma list is refused."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise KbError(f"expected NAME=VALUE, got '{pair}'")
        name, value = (s.strip() for s in pair.split("=", 1))
        if not name:
            raise KbError(f"expected NAME=VALUE, got '{pair}'")
        if name in out:
            raise KbError(f"{name} is given twice")
        if "," in value and not sweep:
            raise KbError(f"{name}: give one value, not a list ('{value}'); sweeps work in kb eval")
        if "," in value:
            import numpy as np

            from .units import parse_number

            parsed = [parse_number(v, what=name) for v in value.split(",") if v.strip()]
            if len({u for _, u in parsed}) > 1:
                raise KbError(f"{name}: give all values in one unit")
            unit = parsed[0][1]
            factor = 1.0
            if unit:
                from .units import UNITS

                factor = UNITS[unit][1]  # the sweep is passed on in the user's unit of its dimension
            out[name] = np.array([v * factor for v, _ in parsed])
        else:
            out[name] = value
    return out


def _print_version(value: bool):
    if value:
        typer.echo(f"scaling-kb {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (default: KB_DATABASE_URL, else a SQLite file in your data directory)."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
):
    if db:
        os.environ["KB_DATABASE_URL"] = db


# ----------------------------------------------------------------------------- browse


@app.command("list")
def list_(
    kind: Optional[str] = typer.Option(None, help="loss, allocation, downstream, transfer, rule, hyperparameter, qualitative."),
    tag: Optional[str] = typer.Option(None, help="Only laws with this tag (e.g. chinchilla)."),
    source: Optional[str] = typer.Option(None, help="Only laws of this source (bibkey)."),
    year: Optional[int] = typer.Option(None, help="Only sources of this year."),
    verified: Optional[bool] = typer.Option(None, "--verified/--unverified", help="Only laws (not) verified in the paper."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """List the laws in the store (published and your own)."""
    from .listing import summaries
    from .schema import KINDS

    if kind and kind not in KINDS:
        from .errors import UnknownId

        raise UnknownId("kind", kind, KINDS)
    laws = summaries(kind=kind, tag=tag, source=source, year=year, verified=verified)
    if as_json:
        from .views import list_json

        emit_json(list_json(laws))
        return
    if not laws:
        typer.echo("no laws match")
        return
    from .terminal import fit_table
    from .views import status

    typer.echo(fit_table(["id", "kind", "title", "status"], [[law.id, law.kind, law.title, status(law)] for law in laws],
                         left=(0, 1, 2, 3), shrink=(2, 0)))
    typer.echo(f"\n{len(laws)} laws from {len({law.source for law in laws})} sources")


@app.command()
def show(ident: str = typer.Argument(..., metavar="ID", help="A law id (hoffmann2022.approach3) or a source bibkey (kaplan2020)."),
         as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Show a law (form, constants with locations, conditions, checks) or a source."""
    from . import views
    from .lookup import resolve_in

    target, cat = resolve_in(ident)
    data = views.show_json(target, cat)
    if hasattr(target, "formula"):
        source = cat.sources[target.source]
        if as_json:
            return emit_json(data)
        from .views import status

        flag = {"verified": "", "unverified": ", UNVERIFIED"}.get(status(target), f", {status(target)}")
        typer.echo(f"{target.id}: {target.title}  [{target.kind}{flag}]")
        typer.echo(f"source: {source.short} ({source.bibkey}, {source.year}); {target.location}")
        if target.formula:
            typer.echo(f"\n  {target.predicts.symbol} = {target.formula}    [{target.predicts.unit}: {target.predicts.quantity}]")
        if target.table:
            typer.echo(f"\n  tabulated in {target.table.location} (log-log interpolation between rows; outside, extrapolated):")
            typer.echo(table(list(target.table.columns), [list(r) for r in target.table.rows]))
        if target.budget:
            typer.echo(f"  budget: {target.variables[0].symbol} = {target.budget.formula} for C FLOPs spent [{target.budget.location}]")
        for name, expr in target.where:
            typer.echo(f"  where {name} = {expr}")
        for out in target.outputs:
            if out.formula:
                typer.echo(f"  also {out.symbol} = {out.formula}    [{out.unit}]")
        if target.variables:
            typer.echo("\nvariables:")
            for v in target.variables:
                typer.echo(f"  {v}")
        if target.constants:
            typer.echo("\nconstants (as printed):")
            for c in target.constants:
                typer.echo(f"  {c}")
                for a in c.alternatives:
                    typer.echo(f"      also printed: {a.value} [{a.location}]{'; ' + a.note if a.note else ''}")
        for claim in target.claims:
            typer.echo(f"  claim: {claim.text} [{claim.location}]")
        typer.echo("\nconditions:")
        for k, v in target.conditions:
            typer.echo(f"  {k}: {v}")
        for n in target.notes:
            typer.echo(f"note: {n.text}{' [' + n.location + ']' if n.location else ''}")
        for r in data["relations"] + data["related_from"]:
            typer.echo(f"relation: {r['from']} {r['kind']} {r['to']}{': ' + r['note'] if r['note'] else ''}")
        if target.checks:
            typer.echo(f"\nchecks: {len(target.checks)} (run `kb check {target.id}`)")
        return
    laws = cat.laws_of(target.bibkey)
    incoming = views.incoming_relations(cat, target.bibkey)
    if as_json:
        return emit_json(data)
    typer.echo(f"{target.bibkey}: {target.short}, \"{target.title}\" ({target.year}){'' if target.verified else '  [UNVERIFIED parts]'}")
    typer.echo(", ".join(target.authors))
    if target.url:
        typer.echo(target.url)
    typer.echo(f"headline loss: {target.headline_loss or '—'}; allocation: "
               f"{', '.join(f'{k}={v}' for k, v in target.headline_allocation.items()) or '—'}")
    typer.echo("\nlaws:")
    typer.echo(table(["id", "kind", "title"], [[law.id, law.kind, law.title] for law in laws]))
    for r in target.relations + tuple(incoming):
        typer.echo(f"relation: {r.source} {r.kind} {r.target}{': ' + r.note if r.note else ''}")
    for n in target.inconsistencies:
        typer.echo(f"inconsistency: {n.text} [{n.location}]")


@app.command()
def search(text: str = typer.Argument(..., help="Words to find (all must match): a symbol, quantity, dataset, author, tag..."),
           as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Find laws by text, symbol, quantity, kind, dataset or author."""
    from . import catalog
    from .listing import summaries
    from .query import rank

    if not text.strip():
        raise KbError("search needs some text")
    laws = rank(summaries(text_=text), text, catalog.published().sources)
    if as_json:
        return emit_json({"query": text, "count": len(laws),
                          "laws": [{"id": law.id, "title": law.title, "kind": law.kind} for law in laws]})
    if not laws:
        typer.echo(f"nothing matches '{text}'")
        return
    from .terminal import fit_table

    typer.echo(fit_table(["id", "kind", "title"], [[law.id, law.kind, law.title] for law in laws],
                         left=(0, 1, 2), shrink=(2, 0)))


# ----------------------------------------------------------------------------- calculate


@app.command("eval")
def eval_(
    ident: str = typer.Argument(..., metavar="LAW", help="Law id (hoffmann2022.approach3), or a source for its headline loss law (chinchilla)."),
    assignments: Optional[List[str]] = typer.Argument(None, metavar="NAME=VALUE...", help="Inputs, e.g. N=70B D=1.4T; comma lists sweep (equal lengths are paired)."),
    grid: bool = typer.Option(False, "--grid", help="Evaluate every combination of the lists (cross product) instead of pairing them."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Take N, D (and C) from a stored model, e.g. chinchilla (see kb models)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Evaluate a law at given inputs (warns outside the fitted range)."""
    from . import calc
    from .lookup import law

    target = law(ident)
    caveats = []
    if model:
        from . import models

        result, data = models.evaluate_at(target, models.get_model(model), parse_assignments(assignments))
        caveats = data["caveats"]
    else:
        result = calc.evaluate(target, calc.sweep(parse_assignments(assignments), grid))
        data = result.as_json()
    if as_json:
        return emit_json(data)
    out = result.output
    if model:
        typer.echo(f"at {data['model']['display']}: " + ", ".join(f"{k} = {g(v)}" for k, v in data["inputs"].items()))
    if isinstance(out["value"], list):  # a sweep: one row per point, the inputs repeated
        from .terminal import fit_table, sig

        columns = {**result.inputs, out["symbol"]: out["value"], **{a["symbol"]: a["value"] for a in result.also}}
        typer.echo(f"{target.id}: {out['quantity']} [{out['unit']}]")
        typer.echo(fit_table(list(columns), [[sig(v[i] if isinstance(v, list) else v, 4) for v in columns.values()]
                                             for i in range(len(out["value"]))]))
    else:
        typer.echo(f"{out['symbol']} = {g(out['value'])} {out['unit']}    ({target.id}: {out['quantity']})")
        for a in result.also:
            typer.echo(f"{a['symbol']} = {g(a['value'])} {a['unit']}")
    for c in caveats:
        typer.echo(f"caveat: {c}")
    warn(result.warnings)


@app.command()
def model(name: str = typer.Argument(..., metavar="NAME", help="A model name or alias: chinchilla, gpt-3, llama3-405b..."),
          as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """Show a trained model as stored: parameters, tokens, FLOPs, tokenizer, each with its location."""
    from . import models

    data = models.model_json(models.get_model(name))
    if as_json:
        return emit_json(data)
    typer.echo(f"{data['name']}: {data['display']}  [source {data['source']}]"
               + ("" if data["verified"] else "  (some figures unverified)"))
    if data["aliases"]:
        typer.echo(f"aliases: {', '.join(data['aliases'])}")
    for quantity, f in data["figures"].items():
        flag = "" if f["verified"] else " (unverified)"
        typer.echo(f"  {quantity} = {g(f['value'])}  (printed {f['printed'] or '—'}) [{f['location']}]{flag}"
                   + (f"; {f['note']}" if f["note"] else ""))
    typer.echo(f"  tokens per parameter = {g(data['tokens_per_param'], 3)}")
    for key in ("tokenizer", "dataset"):
        if data[key]:
            typer.echo(f"  {key}: {data[key]}")
    for n in data["notes"]:
        typer.echo(f"note: {n['text']}{' [' + n['location'] + ']' if n['location'] else ''}")


@app.command("models")
def models_(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """List the stored models (by training compute), with parameters, tokens and FLOPs."""
    from . import models

    data = models.models_json()
    if as_json:
        return emit_json(data)
    typer.echo(table(["name", "params", "tokens", "FLOPs", "source", "verified"],
                     [[m["name"], g(m["params"], 4), g(m["tokens"], 3),
                       g(m["flops"], 3) + (" (6ND)" if m["flops_derived"] else ""), m["source"],
                       "yes" if m["verified"] else "partly"] for m in data["models"]]))


@app.command()
def optimal(
    ident: str = typer.Argument(..., metavar="LAW|SOURCE", help="A loss law of N and D, an allocation law, or a source."),
    more: Optional[List[str]] = typer.Argument(None, metavar="[C...]", help="Further budgets after --compute."),
    compute: List[str] = typer.Option(..., "--compute", "-c", help="Training compute in FLOPs (5.76e23, '6666 PF-days'); repeat or list more."),
    given: Optional[List[str]] = typer.Option(None, "--given", "-g", metavar="NAME=VALUE", help="Hold another variable of the loss law fixed (repeatable)."),
    unique_tokens: Optional[str] = typer.Option(None, "--unique-tokens", "-U", help="Unique tokens available (data-constrained laws with a variable U, e.g. muennighoff2023.data_constrained)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Compute-optimal model size N and tokens D for budgets C (C = 6ND).

    For a data-constrained loss law, --unique-tokens U finds the optimum when only U unique
    tokens exist (D above U means repeated epochs)."""
    from . import calc
    from .lookup import resolve_in

    budgets = calc.parse_budgets([c for item in list(compute) + list(more or []) for c in item.split(",") if c.strip()])
    budgets.sort()  # --compute values and trailing ones arrive separately; report them in order
    target, cat = resolve_in(ident)
    held = parse_assignments(given, sweep=False)
    if unique_tokens is not None:
        held["U"] = unique_tokens
    result = calc.optimal(target, budgets, cat, held or None)
    data = result.as_json()
    data["law"] = ident
    if as_json:
        return emit_json(data)
    typer.echo(f"{ident}: {result.method}" + (f"; loss from {result.loss_law}" if result.loss_law else ""))
    typer.echo(table(["C (FLOP)", "N_opt", "D_opt", "D/N", "loss"],
                     [[g(r["compute"], 3), g(r["N"]), g(r["D"]), g(r["tokens_per_param"], 3), g(r["loss"])]
                      for r in data["results"]]))
    warn(result.warnings)


@app.command()
def inverse(
    ident: str = typer.Argument(..., metavar="LAW", help="Law id."),
    assignments: Optional[List[str]] = typer.Argument(None, metavar="NAME=VALUE...", help="Inputs held fixed."),
    target: str = typer.Option(..., "--target", "-t", help="The value of the law's output to reach (e.g. a loss of 2.0)."),
    solve_for: Optional[str] = typer.Option(None, "--solve-for", help="The variable to solve for (default: the one not given; C for a loss law with nothing given)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """What compute (or N, or D) reaches a target? With nothing given, a loss law of N and D is solved for the compute whose optimal allocation reaches the target."""
    from . import calc
    from .lookup import law

    result = calc.inverse(law(ident), target, parse_assignments(assignments, sweep=False), solve_for)
    if as_json:
        return emit_json(result)
    s = result["solved"]
    typer.echo(f"{s['symbol']} = {g(s['value'])} {s['unit']} reaches {result['target']['symbol']} = {target}")
    if "optimum" in result:
        o = result["optimum"]
        typer.echo(f"  at the optimum: N = {g(o['N'])}, D = {g(o['D'])}, D/N = {g(o['tokens_per_param'], 3)}")
    warn(result["warnings"])


@app.command()
def inference(
    ident: str = typer.Argument(..., metavar="LAW", help="A loss law of N and D."),
    target: str = typer.Option(..., "--target-loss", "-t", help="The loss the model must reach."),
    tokens: str = typer.Option(..., "--inference-tokens", "-i", help="Tokens the model will process in inference over its lifetime (2N FLOPs each)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Inference-aware optimum (Sardana et al.): the model reaching a loss with the least training + inference compute."""
    from . import calc
    from .lookup import law
    from .units import parse_number

    result = calc.inference_optimal(law(ident), parse_number(target, "target loss")[0],
                                    parse_number(tokens, "inference tokens")[0])
    if as_json:
        return emit_json(result)
    o, r = result["optimum"], result["compute_optimal_reference"]
    typer.echo(table(["", "N", "training tokens", "total FLOPs"],
                     [["inference-aware", g(o["N"]), g(o["D_train"]), g(o["total_flops"])],
                      ["compute-optimal (same loss)", g(r["N"]), g(r["D_train"]), g(r["total_flops"])]]))
    typer.echo(f"saving: {result['saving']:.1%} of the total compute")
    warn(result["warnings"])


@app.command()
def compare(
    idents: List[str] = typer.Argument(..., metavar="ID ID...", help="Two or more law ids or sources."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    md: Optional[Path] = typer.Option(None, "--md", help="Write a Markdown report to this file."),
    tex: Optional[Path] = typer.Option(None, "--tex", help="Write a LaTeX document (booktabs tables, \\citet keys of references.bib) to this file."),
    templates: Optional[Path] = typer.Option(None, "--templates", help="A directory whose templates override the packaged ones."),
    compute: Optional[List[str]] = typer.Option(None, "--compute", "--budgets", "-c", help="Compute budgets of the grid in FLOPs (repeat or comma-list: 1e21,1e23,5.76e23); default 1e19..1e26."),
    models: Optional[str] = typer.Option(None, "--models", help="Place trained models on the plots, e.g. gpt3,chinchilla,llama3-405b (see kb models)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Compare laws or sources: forms, constants, caveats, and N_opt, D_opt, loss on a grid of budgets
    (default 1e19..1e26 FLOP), with the FLOPs each allocation really spends (6ND)."""
    from . import compare as compare_mod

    check_templates(templates)
    budgets = compare_mod.DEFAULT_BUDGETS
    if compute:
        from .calc import parse_budgets

        budgets = sorted(parse_budgets([c for item in compute for c in item.split(",") if c.strip()]))
    result = compare_mod.compare_ids(idents, budgets, models=[models] if models else None)
    outputs = [(path, fmt) for path, fmt in ((html, "html"), (md, "md"), (tex, "tex")) if path is not None]
    for path, fmt in outputs:
        write_atomically(path, compare_mod.document(result, fmt, templates))
    if as_json:
        return emit_json(result)
    for path, _ in outputs:
        typer.echo(f"wrote {path}", err=True)
    print_comparison(result)


def print_models_overlay(overlay: dict) -> None:
    typer.echo("\nTrained models against the laws (loss = the law at the model's N and D):")
    items = list(dict.fromkeys(r["item"] for r in overlay["losses"]))
    rows = []
    for m in overlay["models"]:
        losses = {r["item"]: r["loss"] for r in overlay["losses"] if r["model"] == m["name"]}
        rows.append([m["display"], g(m["params"], 3), g(m["tokens"], 3),
                     g(m["flops"], 3) + (" (6ND)" if m["flops_derived"] else "")] + [g(losses.get(i)) for i in items])
    typer.echo(table(["model", "N", "D", "C (FLOP)"] + [f"loss {i}" for i in items], rows))


def check_templates(templates: Optional[Path]) -> None:
    if templates is not None and not templates.is_dir():
        raise KbError(f"--templates {templates}: not a directory")


def print_comparison(result: dict) -> None:
    from .terminal import fit_table, flops, si, sig, wrap

    for notice in result["notices"]:
        typer.echo(wrap(f"NOTE: {notice}"))
    for law in result["laws"]:
        typer.echo(wrap(f"== {law['id']}: {law['title']} [{law['kind']}]"))
        if law["formula"]:
            typer.echo(wrap(f"   {law['predicts']['symbol']} = {law['formula']}", indent="     "))
        for sym, c in law["constants"].items():
            value = "not available" if c["missing"] else c["value"]
            typer.echo(wrap(f"   {sym} = {value} {c['unit'] or ''}  [{c['location']}]{'' if c['verified'] else ' (unverified)'}",
                            indent="     "))
        if law.get("table"):
            typer.echo(wrap(f"   {len(law['table']['rows'])} rows as printed in {law['table']['location']} "
                            f"(kb show {law['id']})", indent="     "))
    for h in result["headlines"]:
        if h["why"]:
            typer.echo(wrap(f"\nHeadline of {h['source']}: {h['allocation']}. {h['why']}"))
    if result["caveats"]:
        typer.echo("\nCaveats (not directly comparable):")
        for c in result["caveats"]:
            typer.echo(wrap(f" - {c}", indent="   "))
    if result.get("models"):
        print_models_overlay(result["models"])
    for p in result["predictions"]:
        if not p["available"]:
            typer.echo(wrap(f"\n{p['label']}: no allocation ({p['reason']})"))
            continue
        typer.echo(wrap(f"\n{p['label']} [{p['id']}]: {p['method']}" + (f"; loss from {p['loss_law']}" if p["loss_law"] else "")))
        lc = p.get("law_compute")
        headers = ["C (FLOP)"] + ([f"{lc['symbol']} (FLOP)"] if lc else []) + ["N_opt", "D_opt", "D/N", "6ND/C", "loss", "range"]
        rows = []
        for r in p["results"]:
            spent = sig(r["spent_over_budget"], 3) + (" OVER" if r["over_budget"] else "")
            rows.append([flops(r["compute"])] + ([flops(r["law_compute"]["value"])] if lc else [])
                        + [si(r["N"]), si(r["D"]), sig(r["tokens_per_param"], 3), spent, sig(r["loss"], 4),
                           "fitted" if r["in_fitted_range"] else "extrap."])
        typer.echo(fit_table(headers, rows, left=(len(headers) - 1,)))
    for ratio in result["ratios"]:
        typer.echo(f"\nRatio {ratio['numerator']} / {ratio['denominator']}:")
        typer.echo(fit_table(["C (FLOP)", "N ratio", "D ratio", "6ND ratio", "loss ratio"],
                             [[flops(r["compute"]), sig(r["N"], 3), sig(r["D"], 3), sig(r["spent"], 3), sig(r["loss"], 3)]
                              for r in ratio["rows"]]))
        if ratio["loss_note"]:
            typer.echo(wrap(f"loss ratio: {ratio['loss_note']}"))


@app.command()
def report(
    out: Path = typer.Option(..., "--out", "-o", help="Directory of the site (created; unchanged files are not rewritten)."),
    templates: Optional[Path] = typer.Option(None, "--templates", help="A directory whose templates override the packaged ones."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Write a static site of the whole catalog: an index with an offline filter, a page per source,
    law and standard comparison, each with its JSON twin (the --json of kb list / show / compare)."""
    from . import site

    check_templates(templates)
    bar = None
    if not as_json and sys.stderr.isatty():
        bar = typer.progressbar(length=1, label="kb report", file=sys.stderr)
        bar.__enter__()

    def progress(done, total):
        bar.length = total
        bar.update(1)

    try:
        summary = site.build(out, templates, progress if bar is not None else None)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        return emit_json(summary)
    warn(summary["warnings"])
    typer.echo(f"{summary['out']}: {summary['pages']} pages ({summary['sources']} sources, {summary['laws']} laws, "
               f"{len(summary['comparisons'])} comparisons); {len(summary['written'])} files written, "
               f"{summary['unchanged']} unchanged{', ' + str(len(summary['removed'])) + ' removed' if summary['removed'] else ''}")
    for s in summary["skipped_comparisons"]:
        typer.echo(f"not compared: {' vs '.join(s['pair'])}: {s['reason']}", err=True)
    typer.echo(f"open {Path(summary['out']) / 'index.html'}")


@app.command("table")
def table_(
    idents: List[str] = typer.Argument(..., metavar="ID...", help="Law ids or sources (a source stands for its headline laws)."),
    fmt: str = typer.Option("latex", "--format", "-f", help="latex (booktabs, \\citet keys of references.bib), md or csv."),
    output: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    templates: Optional[Path] = typer.Option(None, "--templates", help="A directory whose templates override the packaged ones."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """The laws' constants and exponents as printed, as a LaTeX (booktabs), Markdown or CSV table."""
    from . import tables

    check_templates(templates)
    if fmt not in tables.FORMATS:
        raise KbError(f"unknown format '{fmt}'; use latex, md or csv")
    data = tables.table_data(idents)
    text = tables.render_table(data, fmt, templates)
    if output is not None:
        write_atomically(output, text)
    if as_json:
        return emit_json({**data, "format": fmt, "text": text})
    if output is not None:
        typer.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)
    for ident in data["skipped"]:
        warn([f"{ident} has no constants; left out"])


@app.command()
def check(
    idents: Optional[List[str]] = typer.Argument(None, metavar="[ID...]", help="Only these laws or sources (default: all)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every check, not only failures."),
):
    """Reproduce every number the papers print that follows from their own constants.

    Exits 1 when any check fails. Printed numbers that do not follow (recorded inconsistencies) are listed apart."""
    from . import check as check_mod
    from .lookup import full_catalog, resolve

    cat = full_catalog()
    laws = list(cat.laws.values())
    if idents:
        chosen = set()
        for ident in idents:
            target = resolve(ident)
            chosen |= {target.id} if hasattr(target, "formula") else {law.id for law in cat.laws_of(target.bibkey)}
        laws = [law for law in laws if law.id in chosen]
    summary = check_mod.summary(check_mod.run_all(laws))
    if as_json:
        emit_json(summary)
    else:
        for c in summary["checks"]:
            if verbose or not c["ok"]:
                status = "ok  " if c["ok"] else "FAIL"
                typer.echo(f"{status} {c['law']} {c['label']}: expected {c['expected']} got {g(c['got'], 6)} "
                           f"(±{g(c['tolerance'], 2)}) [{c['location']}]{' ' + c['error'] if c['error'] else ''}")
        if summary["inconsistencies"]:
            typer.echo(f"\nRecorded inconsistencies (printed numbers that do not follow from the printed constants):")
            for c in summary["inconsistencies"]:
                typer.echo(f"  {c['law']} {c['label']}: printed {c['expected']}, constants give {g(c['got'], 6)} "
                           f"[{c['location']}] {c['note'] or ''}")
        typer.echo(f"\n{summary['passed']} passed, {summary['failed']} failed")
    if summary["failed"]:
        raise typer.Exit(1)


@app.command()
def cite(
    idents: List[str] = typer.Argument(..., metavar="ID...", help="Source bibkeys, aliases (chinchilla) or law ids."),
    fmt: str = typer.Option("bibtex", "--format", "-f", help="bibtex, text or markdown."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Print the references of one or more sources (from references.bib)."""
    from . import cite as cite_mod
    from .lookup import resolve

    if fmt not in ("bibtex", "text", "markdown"):
        raise KbError(f"unknown format '{fmt}'; use bibtex, text or markdown")
    keys = []
    for ident in idents:
        target = resolve(ident)  # aliases and case; unknown ids get the closest ones
        key = getattr(target, "source", None) or target.bibkey
        if key not in cite_mod.keys():
            raise KbError(f"'{key}' has no entry in references.bib")
        if key not in keys:
            keys.append(key)
    render = {"bibtex": cite_mod.bibtex, "text": cite_mod.text, "markdown": cite_mod.markdown}[fmt]
    outs = [render(key) for key in keys]
    if as_json:
        entries = [{"key": k, "format": fmt, "citation": o, "reference": cite_mod.reference(k)} for k, o in zip(keys, outs)]
        # one key keeps the shape scripts rely on; several give a list of the same entries
        return emit_json(entries[0] if len(entries) == 1 else {"format": fmt, "citations": entries})
    typer.echo(("\n\n" if fmt == "bibtex" else "\n").join(o.rstrip("\n") for o in outs))


@app.command()
def fit(
    path: Path = typer.Argument(..., metavar="FILE.csv", help="Your runs: one row per run, columns like N/params, D/tokens, C/flops, loss."),
    form: str = typer.Option("chinchilla", "--form", help="The form to fit (chinchilla, kaplan, power, power_offset, ...)."),
    objective: str = typer.Option("huber-log", "--objective", help="huber-log (Hoffmann: Huber 1e-3 on log residuals, summed), mse, or asym."),
    bootstrap: int = typer.Option(0, "--bootstrap", help="Bootstrap draws (resampling models) for confidence intervals."),
    approach: int = typer.Option(3, "--approach", help="3: parametric fit; 2: IsoFLOP parabolas then a power law (biased; see notes)."),
    column: Optional[List[str]] = typer.Option(None, "--column", metavar="ROLE=NAME", help="Map a form variable to a CSV column, e.g. N=params."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    save: Optional[str] = typer.Option(None, "--save", metavar="ID", help="Store the fitted law as ID (bibkey.name, e.g. mylab2026.fit1); several fits of one bibkey live side by side."),
    replace: bool = typer.Option(False, "--replace", help="With --save: overwrite an earlier fit saved under the same ID."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Compute (FLOPs) at which N_opt, D_opt, L_opt are reported (default: the largest 6ND among the runs)."),
    weights: Optional[str] = typer.Option(None, "--weights", metavar="COL", help="Column of row weights (default: a 'weight' column when present)."),
    fix: Optional[List[str]] = typer.Option(None, "--fix", metavar="NAME=V", help="Hold a parameter fixed, e.g. --fix alpha=0.34 (repeatable)."),
    tie: Optional[List[str]] = typer.Option(None, "--tie", metavar="A=B", help="One parameter for two, e.g. --tie alpha=beta (Gadre et al.)."),
    bounds: Optional[List[str]] = typer.Option(None, "--bounds", metavar="NAME=LO:HI", help="Search bounds, e.g. --bounds E=0.5:3 (repeatable)."),
    starts: Optional[List[str]] = typer.Option(None, "--starts", metavar="K|NAME=LO:HI:COUNT", help="Grid points polished (e.g. 16), or a start grid for an exponent (alpha=0.1:1.2:12)."),
    predict: Optional[List[str]] = typer.Option(None, "--predict", metavar="N=70B,D=1.4T", help="The fitted loss at these inputs, with its bootstrap interval."),
    compare: Optional[str] = typer.Option(None, "--compare", metavar="LAW", help="Whether a published law's constants lie within the fit's intervals."),
    html: Optional[Path] = typer.Option(None, "--html", metavar="FILE", help="Write a report: data and fit on log axes, residuals, intervals, comparison."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Fit a published law's form to your own training runs, with bootstrap confidence intervals."""
    from . import fit as fit_mod

    if bootstrap < 0:
        raise KbError("--bootstrap must be >= 0")
    if not 0 <= seed < 2**63:
        raise KbError(f"--seed must be an integer from 0 to 2**63 - 1; got {seed}")
    if replace and not save:
        raise KbError("--replace needs --save ID")
    columns = {k: v for k, v in (c.split("=", 1) if "=" in c else (c, "") for c in column or [])}
    if any(not v for v in columns.values()):
        raise KbError("--column takes ROLE=NAME, e.g. --column N=params")
    show_bar = bool(bootstrap) and not as_json and sys.stderr.isatty()
    with (typer.progressbar(length=bootstrap, label="bootstrap", file=sys.stderr) if show_bar
          else contextlib.nullcontext()) as bar:
        def progress(done, total):  # the fit reports cumulative draws; the bar wants increments
            bar.update(done - bar.pos)

        extra = {}
        if budget is not None:
            from .calc import parse_budgets

            extra["budget"] = float(parse_budgets([budget])[0])
        extra.update(fit_mod.parse_options(fix=fix, tie=tie, bounds=bounds, starts=starts, predict=predict))
        if compare:
            from .lookup import law as find_law

            published = find_law(compare)
            extra["compare"] = {"law": published.id,
                                "constants": {c.symbol: c.value for c in published.constants}}
        result = fit_mod.fit_csv(path, form, columns=columns or None, objective=objective, bootstrap=bootstrap,
                                 seed=seed, approach=approach, progress=progress if show_bar else None,
                                 weights=weights, **extra)
    if html:
        from . import fitreport

        write_atomically(html, fitreport.document_for_file(result, path, columns or None, weights))
        result["html"] = str(html)
    if save:
        from .store import Store

        Store().save_law(fit_mod.to_law_document(result, save), f"fit of {path}", replace=replace)
        result["saved_as"] = save
    if as_json:
        return emit_json(result)
    typer.echo(f"{result.get('form')} fit to {result.get('n_points')} points ({result.get('objective')})")
    boot = result.get("bootstrap") or {}
    if boot:
        typer.echo(f"intervals: {boot.get('interval', '2.5-97.5 percentile')} of {boot.get('draws')} bootstrap draws "
                   f"(resampling {boot.get('resampled', 'models')})")
    ci = result.get("ci") or {}
    typer.echo(table(["parameter", "value", "CI low", "CI high"],
                     [[k, g(v, 5), g((ci.get(k) or [None, None])[0], 4), g((ci.get(k) or [None, None])[1], 4)]
                      for k, v in (result.get("params") or {}).items()]))
    for line in fit_summary_lines(result, budget is not None) + fit_mod.summary_lines(result):
        typer.echo(line)
    if save:
        typer.echo(f"saved as {save}")
    warn(result.get("warnings") or [])


def fit_summary_lines(result: dict, budget_given: bool = False) -> "list[str]":
    """The derived numbers of a fit with their bootstrap intervals (N_opt, D_opt, L_opt, ...),
    and which budget the optimum is taken at and why."""
    derived = dict(result.get("derived") or {})
    ci = result.get("ci") or {}
    lines = []
    budget = derived.pop("budget", None)
    if budget is not None:
        why = "given with --budget" if budget_given else "the largest 6ND among your runs (choose with --budget)"
        lines.append(f"compute-optimal allocation at C = {g(budget, 4)} FLOP, {why}:")
    for k, v in derived.items():
        if isinstance(v, (dict, list)):
            continue
        interval = ci.get(k)
        shown = f"  ({g(interval[0], 4)} .. {g(interval[1], 4)})" if interval and None not in interval else ""
        lines.append(f"  {k} = {g(v, 5)}{shown}")
    return lines


@app.command()
def remove(
    ident: str = typer.Argument(..., metavar="ID", help="A law you saved (mylab2026.fit1) or your whole source (mylab2026)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (needed when not on a terminal)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Remove a law you added or fitted (published laws can never be removed)."""
    from .store import Store

    store = Store()
    if not yes:
        if not sys.stdin.isatty():
            raise KbError(f"not removing '{ident}' without --yes (no terminal to confirm on)")
        if not typer.confirm(f"remove {ident} from the store?", default=False):
            raise typer.Exit(1)
    removed = store.remove_law(ident)
    if as_json:
        return emit_json({"removed": removed})
    typer.echo(f"removed {', '.join(removed)}")


@app.command()
def lint(
    paths: List[str] = typer.Argument(..., metavar="FILE...", help="Markdown, LaTeX or plain-text drafts; - reads stdin."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list numbers it could not attribute to a paper."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Check the scaling-law numbers a draft quotes against the papers.

    Verdicts: ok, wrong, misattributed, unverifiable. Exits 1 when any claim is wrong or
    misattributed, 0 otherwise."""
    from . import lint as lint_mod

    result = lint_mod.lint_paths(paths, verbose=verbose)
    if as_json:
        emit_json(result)
    else:
        for finding in result["findings"]:
            typer.echo(lint_mod.format_finding(finding))
        summary = ", ".join(f"{n} {verdict}" for verdict, n in result["summary"].items())
        typer.echo(f"{len(result['findings'])} claims: {summary}", err=True)
    if result["summary"].get("wrong", 0) or result["summary"].get("misattributed", 0):
        raise typer.Exit(1)


@app.command()
def add(
    path: Path = typer.Argument(..., metavar="FILE.toml", help="A law file in the format of laws/*.toml."),
    replace: bool = typer.Option(False, "--replace", help="Replace your earlier version of this source."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Add your own law file to the store (validated like the published ones)."""
    from .store import Store

    source, laws = Store().add_file(path, replace=replace)
    if as_json:
        return emit_json({"added": source.bibkey, "laws": [law.id for law in laws]})
    typer.echo(f"added {source.bibkey}: {', '.join(law.id for law in laws)}")


# ----------------------------------------------------------------------------- entry point


class Interrupted(BaseException):
    """Ctrl-C, raised by our SIGINT handler instead of KeyboardInterrupt, which typer turns into a
    silent exit 130 before main could say so. A BaseException: it unwinds through every
    `except Exception`, so the safe writer removes its temporary file and a store transaction
    rolls back on the way out."""


def _interrupt(signum, frame):
    raise Interrupted()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    typer.echo(f"warning: {safe_text(message)}", err=True)  # one line, never a source excerpt


def _strict_argv(argv) -> "list[str]":
    """The arguments as UTF-8, decoded strictly whatever the locale (Python decoded them with the
    locale's codec and surrogateescape; os.fsencode gives back the bytes as typed)."""
    out = []
    for n, arg in enumerate(argv, 1):
        try:
            out.append(os.fsencode(arg).decode("utf-8"))
        except UnicodeError:
            raise KbError(f"argument {n} is not valid UTF-8 text") from None
    return out


def _stdout_gone() -> None:
    """The reader of stdout left (`kb list | head -1`): the work is done; point stdout at
    /dev/null so the interpreter's final flush does not complain, and exit 0 like cat."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(0)


def _epipe(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
            return True
        exc = exc.__context__
    return False


def _help_hint(exc) -> str:
    """`kb SUBCOMMAND --help` for an error inside a sub-command, else `kb --help`."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None and getattr(ctx, "command_path", "") else "kb"
    return f"{path} --help"


def main(argv=None) -> None:
    try:  # typer >= 0.29 vendors click; older typer uses the click package
        from typer._click.exceptions import ClickException, NoArgsIsHelpError
    except ImportError:
        from click.exceptions import ClickException, NoArgsIsHelpError
    from typer import Abort, Exit

    import signal
    import warnings

    warnings.showwarning = _show_warning
    from .printable import Escaping

    if not isinstance(sys.stdout, Escaping):  # control characters of stored text shown escaped
        sys.stdout, sys.stderr = Escaping(sys.stdout), Escaping(sys.stderr, keep_cr=True)
    with contextlib.suppress(ValueError):  # not in the main thread (an embedding program): leave it
        signal.signal(signal.SIGINT, _interrupt)
    try:
        args = _strict_argv(sys.argv[1:] if argv is None else argv)
        code = app(args=args, prog_name="kb", standalone_mode=False)
    except Interrupted:
        typer.echo("kb: interrupted", err=True)
        sys.exit(130)
    except SystemExit as exc:  # typer meets EPIPE with sys.exit(1) before we see it
        if _epipe(exc.__context__):
            _stdout_gone()
        raise
    except KbError as exc:
        typer.echo(f"kb: error: {safe_text(exc)}", err=True)
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:
        typer.echo(exc.format_message(), err=True)  # bare `kb`: the help, and status 2
        sys.exit(2)
    except ClickException as exc:
        typer.echo(f"kb: error: {' '.join(exc.format_message().split())} (see {_help_hint(exc)})", err=True)
        sys.exit(2)
    except Exit as exc:
        sys.exit(exc.exit_code)
    except Abort:
        typer.echo("kb: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("kb: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        _stdout_gone()
    try:
        sys.stdout.flush()  # a pipe closed after the last write shows up only here
    except OSError as exc:
        if _epipe(exc):
            _stdout_gone()
        raise
    # The work is done and written: a Ctrl-C from here on must not turn it into a death by
    # SIGINT (Python resets a Python-level handler to the default while shutting down, but
    # leaves an ignored signal ignored).
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code if isinstance(code, int) else 0)
