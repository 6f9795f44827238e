"""`kb report --out DIR`: a static site of the whole catalog, one self-contained page per
source, per law and per standard comparison, and an index with an offline filter.

Every HTML page has a JSON twin beside it (same name, `.json`), built from the same view as
the matching command's `--json`: index.json is `kb list --json`, sources/<bibkey>.json and
laws/<id>.json are `kb show ID --json`, compare/<name>.json is
`kb compare IDS --models <SITE_MODELS> --json` (the comparison pages place a few real models).

Pages carry no external resource: CSS inline, plots inline SVG, formulas MathML; the only
script is the index's filter, inline, allowed by a Content-Security-Policy hash (every other
page allows no script at all). Links go to other pages of the site or to http(s) URLs.

Files are written atomically and only when their bytes change, so rebuilding an unchanged
catalog rewrites nothing; files an earlier build wrote that no longer belong to the site are
removed (the list lives in `.kb-report.json`; nothing else in DIR is touched).
"""

import hashlib
import json
import os
import re
from pathlib import Path

from . import __version__, safe_write, views
from .errors import KbError

MANIFEST = ".kb-report.json"
# The only names a build writes: a stale-file entry of the manifest must be one of them.
SITE_FILE = re.compile(r"(index|(sources|laws|compare)/[A-Za-z0-9_][A-Za-z0-9_.-]*)\.(html|json)")
MAX_PAGE_BYTES = 64 * 2**20  # more than any page a build writes; a stale file is hashed only this far
# (left, right): right may be a source without a headline law; then its loss/allocation laws
# predicting what left's headline laws predict are compared, or the pair is skipped.
STANDARD_COMPARISONS = (
    ("kaplan2020", "hoffmann2022"),
    ("hoffmann2022.approach3", "besiroglu2024.approach3_refit"),
    ("kaplan2020", "pearce2024"),
    ("kaplan2020", "porian2024"),
)
COMPARABLE_KINDS = ("loss", "allocation")
KIND_ORDER = ("loss", "allocation", "downstream", "transfer", "rule", "hyperparameter", "qualitative")


def slug(ident: str) -> str:
    """A file name for an id (ids are validated ASCII; this keeps any odd one inside DIR)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", ident).strip(".")
    return name or "_"


def prepare_out(out: Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KbError(f"--out {out}: is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KbError(f"--out {out}: cannot create the directory ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise KbError(f"--out {out}: directory is not writable")
    return out


def standard_comparisons(catalog) -> "tuple[list[dict], list[dict]]":
    """([{"name", "ids", "title"}], [{"pair", "reason"}]): the standard pairs the catalog can compare."""
    done, skipped = [], []
    for left, right in STANDARD_COMPARISONS:
        missing = [i for i in (left, right) if not catalog.has(i)]
        if missing:
            skipped.append({"pair": [left, right], "reason": f"not in the catalog: {', '.join(missing)}"})
            continue
        ids = [left, right]
        target = catalog.resolve(right)
        if not hasattr(target, "formula") and not (target.headline_loss or target.headline_allocation):
            wanted = {law.predicts.symbol for law in _headline_laws(catalog, left)}
            laws = [law.id for law in catalog.laws_of(target.bibkey)
                    if law.kind in COMPARABLE_KINDS and law.predicts.symbol in wanted]
            if not laws:
                skipped.append({"pair": [left, right],
                                "reason": f"{right} has no loss or allocation law predicting what {left}'s "
                                          f"headline laws predict ({', '.join(sorted(wanted))})"})
                continue
            ids = [left] + laws
        done.append({"name": f"{slug(left)}-vs-{slug(right)}", "ids": ids, "pair": [left, right]})
    return done, skipped


def _headline_laws(catalog, ident):
    target = catalog.resolve(ident)
    if hasattr(target, "formula"):
        return [target]
    ids = ([target.headline_loss] if target.headline_loss else []) + list(target.headline_allocation.values())
    return [catalog.law(i) for i in ids]


class Site:
    def __init__(self, out: Path, template_dir=None):
        from . import catalog as catalog_mod
        from .store import Store

        self.out, self.template_dir = Path(out), template_dir
        store = Store()
        self.published = catalog_mod.published()
        self.catalog = self.published.merged(store.user_catalog())
        # the order `kb list` prints (less any stored document the validator refused)
        self.law_ids = [i for i in store.query() if i in self.catalog.laws]
        self.comparisons, self.skipped = standard_comparisons(self.catalog)
        self._references = {}

    # -- helpers the templates use ---------------------------------------------------------

    def catalog_for(self, ident: str):
        """The catalog `kb show ID` / `kb compare` use for an id (published first)."""
        return self.published if self.published.has(ident) else self.catalog

    def href(self, ident: str, root: str) -> str:
        """Relative link to a law or source page of the site, or '' when it has none."""
        if ident in self.catalog.laws:
            return f"{root}laws/{slug(ident)}.html"
        if ident in self.catalog.sources:
            return f"{root}sources/{slug(ident)}.html"
        base = ident.split(".")[0]
        return f"{root}sources/{slug(base)}.html" if base in self.catalog.sources else ""

    def reference(self, bibkey: str) -> dict:
        """The formatted reference of a source: references.bib, else the source's own fields."""
        if bibkey not in self._references:
            from . import cite

            if bibkey in set(cite.keys()):
                self._references[bibkey] = cite.reference(bibkey)
            else:
                self._references[bibkey] = cite.from_source(self.catalog.sources[bibkey])
        return self._references[bibkey]

    # -- pages -----------------------------------------------------------------------------

    def pages(self):
        """(relative path without suffix, render function returning (html, json data))."""
        yield "index", self.index_page
        for bibkey in self.sources_sorted():
            yield f"sources/{slug(bibkey)}", lambda k=bibkey: self.source_page(k)
        for ident in self.law_ids:
            yield f"laws/{slug(ident)}", lambda i=ident: self.law_page(i)
        for comp in self.comparisons:
            yield f"compare/{comp['name']}", lambda c=comp: self.compare_page(c)

    def sources_sorted(self) -> "list[str]":
        return [s.bibkey for s in sorted(self.catalog.sources.values(), key=lambda s: (s.year or 0, s.bibkey))]

    def render(self, template: str, **context) -> str:
        from . import render

        context.setdefault("version", __version__)
        context.setdefault("script", None)
        context.setdefault("csp", render.csp(None))
        context.setdefault("href", self.href)
        return render.render(template, "html", self.template_dir, **context)

    def index_page(self):
        from markupsafe import Markup

        from . import render

        laws = [self.catalog.laws[i] for i in self.law_ids]
        data = views.list_json(laws)
        by_year = {}
        for bibkey in self.sources_sorted():
            source = self.catalog.sources[bibkey]
            by_year.setdefault(source.year, []).append(source)
        by_kind = {}
        for law in laws:
            by_kind.setdefault(law.kind, []).append(law)
        kinds = sorted(by_kind, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))
        script = render.render_template(render.environment("html", self.template_dir), "site_filter.js")
        html = self.render("site_index.html.j2", title="Scaling laws: the catalog", root="", json_twin="index.json",
                           by_year=by_year, by_kind=[(k, by_kind[k]) for k in kinds], catalog=self.catalog,
                           comparisons=self.comparisons, skipped=self.skipped, count=data["count"],
                           search_text=search_text, script=Markup(script), csp=render.csp(script))
        return html, data

    def source_page(self, bibkey: str):
        cat = self.catalog_for(bibkey)
        source = cat.sources[bibkey]
        data = views.show_json(source, cat)
        laws = [self.catalog.laws[i] for i in data["laws"]]
        comps = [c for c in self.comparisons if any(i.split(".")[0] == bibkey for i in c["ids"])]
        html = self.render("site_source.html.j2", title=f"{source.short or source.bibkey}: {source.title}",
                           root="../", json_twin=f"{slug(bibkey)}.json", source=source, data=data, laws=laws,
                           reference=self.reference(bibkey), comparisons=comps)
        return html, data

    def law_page(self, ident: str):
        cat = self.catalog_for(ident)
        law = cat.laws[ident]
        data = views.show_json(law, cat)
        source = self.catalog.sources[law.source]
        reference = self.reference(law.source)
        comps = [c for c in self.comparisons if ident in c["ids"] or law.source in c["ids"]]
        html = self.render("site_law.html.j2", title=f"{law.title} ({law.id})", root="../",
                           json_twin=f"{slug(ident)}.json", law=data, source=source, reference=reference,
                           cite=reference["cite"], comparisons=comps)
        return html, data

    def compare_page(self, comp: dict):
        from . import compare

        result = compare.compare_ids(comp["ids"], models=SITE_MODELS)
        html = compare.document(result, "html", self.template_dir, home="../index.html",
                                json_twin=f"{comp['name']}.json")
        return html, result


# the trained models every comparison page places on its plots (a few, so the labels stay legible)
SITE_MODELS = ("gpt3", "chinchilla", "llama3-405b")


def search_text(*parts) -> str:
    """The lower-case text the index filter matches against."""
    return " ".join(" ".join(map(str, p)) if isinstance(p, (list, tuple)) else str(p or "") for p in parts).lower()


def inputs_digest(site: "Site") -> str:
    """A hash of everything a build reads: the catalog (published and user laws), references.bib,
    the templates (packaged and overriding), and the package's code and version."""
    from . import resources

    h = hashlib.sha256(f"scaling-kb {__version__}\n".encode())
    h.update(repr(sorted(site.catalog.sources.items())).encode())
    h.update(repr(sorted(site.catalog.laws.items())).encode())
    h.update(repr(site.law_ids).encode())
    dirs = [Path(__file__).resolve().parent, resources.templates_dir()]
    if site.template_dir:
        dirs.append(Path(site.template_dir))
    files = [resources.bibliography()] + [f for d in dirs for f in sorted(d.iterdir()) if f.is_file()]
    for f in files:
        h.update(str(f).encode() + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError:
            pass
    return h.hexdigest()


def _manifest(out: Path) -> dict:
    from . import bounded

    try:
        data = json.loads(bounded.read_bytes(out / MANIFEST, MAX_PAGE_BYTES, "manifest", regular_only=True))
        return data if isinstance(data, dict) else {}
    except (KbError, ValueError):
        return {}


def _recorded(out: Path, rel, sha) -> bool:
    """Whether `rel` names a file of the site, confined to `out`, holding the bytes hashed `sha`
    (what the build that recorded it wrote). A FIFO, device, link or outside path is not."""
    from . import bounded

    if not isinstance(rel, str) or not SITE_FILE.fullmatch(rel):
        return False
    try:
        data = bounded.read_bytes(safe_write.confined(out, rel), MAX_PAGE_BYTES, "page", regular_only=True)
    except KbError:
        return False
    return hashlib.sha256(data).hexdigest() == sha


def _up_to_date(out: Path, manifest: dict, digest: str) -> bool:
    files = manifest.get("files")
    if manifest.get("inputs") != digest or not isinstance(files, dict):
        return False
    return all(_recorded(out, rel, sha) for rel, sha in files.items())


def build(out, template_dir=None, progress=None) -> dict:
    """Render the site into `out`; `progress(done, total)` after each page. Returns a summary.

    When nothing the site is made of changed since the last build (same inputs digest, and every
    file still holds what that build wrote), nothing is rendered; otherwise every page is rendered
    and only files whose bytes differ are replaced."""
    out = prepare_out(out)
    site = Site(out, template_dir)
    digest = inputs_digest(site)
    manifest = _manifest(out)
    summary = {"out": str(out), "sources": len(site.catalog.sources), "laws": len(site.law_ids),
               "comparisons": [{"name": c["name"], "ids": c["ids"]} for c in site.comparisons],
               "skipped_comparisons": site.skipped}
    if _up_to_date(out, manifest, digest):
        n = len(manifest["files"])
        if progress:
            progress(1, 1)
        return {**summary, "pages": n // 2, "files": n, "written": [], "unchanged": n, "removed": [],
                "rendered": False, "warnings": []}
    pages = list(site.pages())
    written, unchanged, files = [], 0, {}
    for n, (name, render_page) in enumerate(pages, 1):
        html, data = render_page()
        for suffix, text in ((".html", html), (".json", views.json_text(data))):
            rel, blob = name + suffix, text.encode("utf-8")
            files[rel] = hashlib.sha256(blob).hexdigest()
            if safe_write.write_bytes(rel, blob, inside=out, only_if_changed=True):
                written.append(rel)
            else:
                unchanged += 1
        if progress:
            progress(n, len(pages))
    removed, warnings = _remove_stale(out, manifest, files)
    safe_write.write_bytes(MANIFEST, (json.dumps({"generator": f"scaling-kb {__version__}", "inputs": digest,
                                                  "files": files}, indent=1) + "\n").encode("utf-8"),
                           inside=out, only_if_changed=True)
    return {**summary, "pages": len(pages), "files": len(files), "written": written, "unchanged": unchanged,
            "removed": removed, "rendered": True, "warnings": warnings}


def _remove_stale(out: Path, manifest: dict, files: dict) -> "tuple[list[str], list[str]]":
    """Delete files an earlier build wrote that are no longer part of the site, and nothing else:
    an entry must name a site file confined to `out` (no `..`, no symlinked folder on the way)
    that still holds the bytes that build recorded. Others are left, with a warning.
    Returns (removed, warnings)."""
    removed, warnings = [], []
    recorded = manifest.get("files")
    for rel, sha in (recorded.items() if isinstance(recorded, dict) else ()):
        if rel in files:
            continue
        if not isinstance(rel, str) or not SITE_FILE.fullmatch(rel):
            warnings.append(f"{MANIFEST}: ignored the entry {rel!r}: not a file of the site inside {out}")
        elif not _recorded(out, rel, sha):
            if os.path.lexists(out / rel):
                warnings.append(f"left {rel} in place: it is not a file an earlier build wrote there")
        else:
            try:
                safe_write.remove_inside(out, rel)
                removed.append(rel)
            except KbError as exc:
                warnings.append(f"left {rel} in place: {exc}")
    return removed, warnings
