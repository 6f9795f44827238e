"""Reports a reviewer can publish: `kb report` (static site), `kb compare --tex`, `kb table`, `kb cite`.

The site is built once per module into a private store that also holds a hostile user law
(`<script>` in its names and formula, a `javascript:` URL), so every check below also checks
that untrusted text comes out as text. The index's filter is exercised in headless Chromium
(tests/test_browser.py's helpers): once through `#q=...` with the page's own
Content-Security-Policy in force, once by typing into the box from a small test harness.
"""

import html as html_mod
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_browser import console_problems, run_chromium  # noqa: E402
from kb.site import SITE_MODELS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KB = Path(sys.executable).parent / "kb"
EVIL = r"""schema = 1
[source]
bibkey = "evil2026"
short = "Evil <script>alert('short')</script>"
title = "A title with <script>alert('title')</script> & <b>tags</b>"
authors = ["Mallory <img src=x onerror=alert(1)>", "Eve O'Brien"]
year = 2026
url = "javascript:alert('url')"
headline = { loss = "L_N" }

[[law]]
name = "L_N"
title = "<script>alert('law')</script> power law"
kind = "loss"
predicts = { symbol = "L", quantity = "loss <i>x</i>", unit = "nats/token" }
formula = "(N_c / N)**alpha_N"
latex = 'L(N) = \left(\frac{N_c}{N}\right)^{\alpha_N} <script>alert("tex")</script> \href{javascript:alert(2)}{x} \input{/etc/passwd}'
location = "p. 1 <script>alert('loc')</script>"
tags = ["evil"]
variables.N = { meaning = "parameters <script>", unit = "params", fitted = ["1e6", "1e9"] }
constants.alpha_N = { value = "0.076", location = "p. 1 </td><script>alert(3)</script>" }
constants.N_c = { value = "8.8e13", unit = "params", location = "p. 1" }
"""
EVIL_IDS = ("evil2026", "evil2026.L_N")


def run(env, *args, check=True):
    r = subprocess.run([str(KB), *map(str, args)], capture_output=True, text=True, env=env, timeout=300,
                       cwd=env["KB_TEST_CWD"])
    if check:
        assert r.returncode == 0, (args, r.stderr)
    return r


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("reports")
    (base / "cwd").mkdir()
    e = {**os.environ, "KB_DATABASE_URL": f"sqlite:///{base / 'kb.sqlite'}", "KB_TEST_CWD": str(base / "cwd")}
    evil = base / "evil.toml"
    evil.write_text(EVIL, encoding="utf-8")
    run(e, "add", evil)
    return e


@pytest.fixture(scope="module")
def site(env, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("site") / "out"  # does not exist yet: kb report creates it
    first = json.loads(run(env, "report", "--out", out, "--json").stdout)
    return {"out": out, "summary": first}


def pages(out: Path, suffix=".html"):
    return sorted(p for p in out.rglob(f"*{suffix}") if not p.name.startswith("."))


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids, self.tags = [], set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("href", "src", "action", "formaction", "xlink:href"):
            if a.get(k) is not None:
                self.links.append((tag, k, a[k]))


def parse(path: Path) -> Links:
    p = Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


# ----------------------------------------------------------------------------- the site


def test_site_has_every_page_of_the_catalog(site, env):
    out, summary = site["out"], site["summary"]
    listed = json.loads(run(env, "list", "--json").stdout)
    law_ids = [law["id"] for law in listed["laws"]]
    assert "evil2026.L_N" in law_ids and len(law_ids) >= 130
    for ident in law_ids:
        assert (out / "laws" / f"{ident}.html").is_file(), ident
        assert (out / "laws" / f"{ident}.json").is_file(), ident
    sources = {p.stem for p in (ROOT / "laws").glob("*.toml") if p.name != "models.toml"} | {"evil2026"}
    assert {p.stem for p in (out / "sources").glob("*.html")} == sources
    compared = {c["name"] for c in summary["comparisons"]}
    assert {"kaplan2020-vs-hoffmann2022", "hoffmann2022.approach3-vs-besiroglu2024.approach3_refit",
            "kaplan2020-vs-porian2024"} <= compared
    assert any(s["pair"] == ["kaplan2020", "pearce2024"] for s in summary["skipped_comparisons"])
    for name in compared:
        assert (out / "compare" / f"{name}.html").is_file() and (out / "compare" / f"{name}.json").is_file()
    assert (out / "index.html").is_file() and (out / "index.json").is_file()
    htmls, jsons = pages(out), pages(out, ".json")
    assert summary["pages"] == len(htmls) == len(jsons) == 1 + len(sources) + len(law_ids) + len(compared)
    assert {p.with_suffix("") for p in htmls} == {p.with_suffix("") for p in jsons}  # every page has its twin
    assert not list(out.rglob(".*kb-tmp")), "a temporary file was left behind"


def test_every_json_twin_equals_the_command(site, env):
    out = site["out"]
    assert json.loads((out / "index.json").read_text()) == json.loads(run(env, "list", "--json").stdout)
    for kind in ("sources", "laws"):
        for path in pages(out / kind, ".json"):
            twin = json.loads(path.read_text(encoding="utf-8"))
            shown = json.loads(run(env, "show", path.stem, "--json").stdout)
            assert twin == shown, f"{path} differs from kb show {path.stem} --json"
    for comp in site["summary"]["comparisons"]:
        twin = json.loads((out / "compare" / f"{comp['name']}.json").read_text(encoding="utf-8"))
        models = ",".join(SITE_MODELS)  # the site's comparison pages place these trained models
        assert twin == json.loads(run(env, "compare", *comp["ids"], "--models", models, "--json").stdout), comp["name"]


def test_every_law_page_links_its_source_reference(site, env):
    out = site["out"]
    for path in pages(out / "laws"):
        data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        bibkey = data["source"]
        page = parse(path)
        hrefs = [v for tag, k, v in page.links if tag == "a" and k == "href"]
        assert f"#ref-{bibkey}" in hrefs, f"{path.name} does not cite its source"
        assert f"ref-{bibkey}" in page.ids, f"{path.name} has no reference entry for {bibkey}"
        assert f"../sources/{bibkey}.html" in hrefs, f"{path.name} does not link its source page"
        ref = re.search(rf'<li id="ref-{re.escape(bibkey)}">(.*?)</li>', path.read_text(encoding="utf-8"), re.S)
        if bibkey != "evil2026":  # published sources: the reference links the paper (arXiv)
            assert ref and re.search(r'href="https://(arxiv\.org|doi\.org)/', ref.group(1)), path.name


def test_site_is_self_contained_and_links_resolve(site):
    out = site["out"]
    for path in pages(out):
        text = path.read_text(encoding="utf-8")
        low = text.lower()
        assert not re.search(r"<script[^>]*\ssrc\s*=", low), f"{path}: external script"
        assert not re.search(r"<link[^>]*stylesheet", low) and "@import" not in low, f"{path}: external stylesheet"
        assert "javascript:" not in low, f"{path}: javascript: URL"
        assert not re.search(r"url\(\s*['\"]?(https?:|//)", low), path
        page = parse(path)
        scripts = [a for tag, a in page.tags if tag == "script"]
        assert len(scripts) == (1 if path.name == "index.html" else 0), f"{path}: unexpected <script>"
        for tag, attr, value in page.links:
            url = urlparse(value)
            if url.scheme:
                assert url.scheme in ("http", "https"), f"{path}: {tag} {attr}={value}"
                assert tag == "a" and attr == "href", f"{path}: external resource {value}"
                continue
            assert not value.startswith("//"), f"{path}: protocol-relative {value}"
            target = path if not url.path else (path.parent / unquote(url.path)).resolve()
            assert target.is_file(), f"{path}: broken link {value}"
            if url.fragment and target == path:
                assert url.fragment in page.ids, f"{path}: no element #{url.fragment}"
    # pages other than the index allow no script at all
    law = (out / "laws" / "hoffmann2022.approach3.html").read_text(encoding="utf-8")
    law = html_mod.unescape(law)
    assert "script-src 'none'" in law and "default-src 'none'" in law


def test_hostile_user_law_renders_as_text(site):
    out = site["out"]
    for rel in ("laws/evil2026.L_N.html", "sources/evil2026.html", "index.html"):
        text = (out / rel).read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<img" not in text, rel
        handlers = [(tag, k) for tag, attrs in parse(out / rel).tags for k in attrs if k.startswith("on")]
        assert not handlers, f"{rel}: event-handler attributes {handlers}"
        assert "&lt;script&gt;alert(" in text, f"{rel}: the <script> in a title should show as text"
    law = (out / "laws" / "evil2026.L_N.html").read_text(encoding="utf-8")
    assert "<b>" not in law and "<i>x</i>" not in law and "&lt;i&gt;x&lt;/i&gt;" in law
    assert "</td><script>" not in law
    # the JSON twin keeps the text as given (it is data, not markup)
    data = json.loads((out / "laws" / "evil2026.L_N.json").read_text(encoding="utf-8"))
    assert data["title"].startswith("<script>")
    # the javascript: URL of the source is dropped, not linked
    source = (out / "sources" / "evil2026.html").read_text(encoding="utf-8")
    assert "javascript" not in source.lower()


def test_rebuild_of_an_unchanged_catalog_writes_nothing(site, env):
    out = site["out"]
    def stamps():  # the site's files (the manifest is bookkeeping: it records a hash of the code too)
        return {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != ".kb-report.json"}

    before = stamps()
    again = json.loads(run(env, "report", "--out", out, "--json").stdout)
    assert again["written"] == [] and again["unchanged"] == again["files"] == len(before)
    assert stamps() == before
    # a page damaged by hand is repaired, and only that page is written
    damaged = out / "laws" / "kaplan2020.L_N.html"
    original = damaged.read_bytes()
    damaged.write_bytes(original + b"<!-- edited -->")
    repaired = json.loads(run(env, "report", "--out", out, "--json").stdout)
    assert repaired["written"] == ["laws/kaplan2020.L_N.html"] and damaged.read_bytes() == original


def test_site_follows_the_catalog_and_removes_stale_pages(env, tmp_path):
    """A user source added, then removed: its pages appear, then go; files not ours stay."""
    e = {**env, "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite'}"}
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    run(e, "report", "--out", out)
    assert not (out / "laws" / "mylab2026.L_N.html").exists()
    mine = tmp_path / "mine.toml"
    mine.write_text((ROOT / "laws" / "kaplan2020.toml").read_text().replace('bibkey = "kaplan2020"',
                                                                            'bibkey = "mylab2026"'))
    run(e, "add", mine)
    grown = json.loads(run(e, "report", "--out", out, "--json").stdout)
    assert "laws/mylab2026.L_N.html" in grown["written"] and "index.json" in grown["written"]
    assert "mylab2026.L_N" in (out / "index.html").read_text()
    (tmp_path / "kb.sqlite").unlink()
    shrunk = json.loads(run(e, "report", "--out", out, "--json").stdout)
    assert "laws/mylab2026.L_N.html" in shrunk["removed"] and not (out / "laws" / "mylab2026.L_N.html").exists()
    assert (out / "notes.txt").read_text() == "mine"


def test_report_bad_out_exits_2_with_one_line(env, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub", "/proc/kb-no/such"):
        r = run(env, "report", "--out", out, check=False)
        assert r.returncode == 2, (out, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kb: error:") and "Traceback" not in r.stderr, r.stderr
    assert a_file.read_text() == "x"


def test_templates_override(env, tmp_path):
    mine = tmp_path / "tpl"
    mine.mkdir()
    (mine / "site_law.html.j2").write_text('{% extends "_site.html.j2" %}{% block content %}'
                                           '<p id="custom">{{ law.id }}</p>{% endblock %}')
    (mine / "table.md.j2").write_text("{% for law in data.laws %}custom {{ law.id }}\n{% endfor %}")
    (mine / "compare.md.j2").write_text("custom compare {{ result['items'] | length }}\n")
    out = tmp_path / "site"
    run(env, "report", "--out", out, "--templates", mine)
    assert '<p id="custom">kaplan2020.L_N</p>' in (out / "laws" / "kaplan2020.L_N.html").read_text()
    assert "Sources by year" in (out / "index.html").read_text()  # the others stay packaged
    assert run(env, "table", "kaplan2020.L_N", "--format", "md", "--templates", mine).stdout == "custom kaplan2020.L_N\n"
    md = tmp_path / "c.md"
    run(env, "compare", "kaplan2020", "hoffmann2022", "--md", md, "--templates", mine)
    assert md.read_text() == "custom compare 2\n"
    r = run(env, "report", "--out", out, "--templates", tmp_path / "nope", check=False)
    assert r.returncode == 2 and "not a directory" in r.stderr


# ----------------------------------------------------------------------------- the filter, in a browser


def _visible(dom: str) -> "set[str]":
    """Law ids of the index rows the filter left visible."""
    soup = re.findall(r"<tr data-law=\"\"([^>]*)>\s*<td class=\"id\"><a href=\"[^\"]+\">([^<]+)</a>", dom)
    return {ident for attrs, ident in soup if "hidden" not in attrs}


def test_index_filter_works_offline_from_the_hash(site, tmp_path):
    index = site["out"] / "index.html"
    url = index.as_uri() + "#q=hoffmann2022%20loss"
    r = run_chromium(url, tmp_path, "--dump-dom", height=1200)
    dom = r.stdout
    assert 'data-filter="hoffmann2022 loss"' in dom, "the filter script did not run (CSP hash?)"
    visible = _visible(dom)
    assert visible and "hoffmann2022.approach3" in visible
    assert len(visible) < 40
    assert "kaplan2020.L_N" not in visible
    assert re.search(r'id="filter-count"[^>]*>\d+ of \d+ laws match<', dom)
    assert not console_problems(r.stderr, url), r.stderr[-2000:]


HARNESS = """<script>
document.addEventListener("DOMContentLoaded", function () {}, false);
window.addEventListener("load", function () {
  var input = document.getElementById("filter"), results = {};
  function visible() {
    return Array.prototype.slice.call(document.querySelectorAll("tr[data-law]"))
      .filter(function (r) { return !r.hidden && r.offsetParent !== null; })
      .map(function (r) { return r.querySelector("a").textContent; });
  }
  results.before = visible().length;
  ["massivetext", "  KAPLAN   l_n ", "no-such-law-anywhere", ""].forEach(function (q) {
    input.value = q;
    input.dispatchEvent(new Event("input", {bubbles: true}));
    results[q] = {rows: visible(), count: document.getElementById("filter-count").textContent,
                  kinds: Array.prototype.slice.call(document.querySelectorAll("section.kind"))
                    .filter(function (s) { return !s.hidden; }).length};
  });
  var pre = document.createElement("pre"); pre.id = "kb-harness"; pre.textContent = JSON.stringify(results);
  document.body.appendChild(pre);
});
</script>"""


def test_index_filter_reacts_to_typing(site, tmp_path):
    """A copy of the index with a harness that types into the box (the copy drops the page's CSP,
    which would rightly refuse the harness's script)."""
    probe = site["out"] / "index-harness.html"
    text = (site["out"] / "index.html").read_text(encoding="utf-8")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    probe.write_text(text.replace("</body>", HARNESS + "</body>"), encoding="utf-8")
    try:
        r = run_chromium(probe.as_uri(), tmp_path, "--dump-dom", height=1200)
    finally:
        probe.unlink()
    m = re.search(r'<pre id="kb-harness">(.*?)</pre>', r.stdout, re.S)
    assert m, "the harness did not run:\n" + r.stderr[-2000:]
    res = json.loads(html_mod.unescape(m.group(1)))
    total = res["before"]
    assert total >= 130
    assert "hoffmann2022.approach3" in res["massivetext"]["rows"] and len(res["massivetext"]["rows"]) < total
    kaplan = res["  KAPLAN   l_n "]["rows"]  # all words, any case, any spacing; Kaplan also co-authored others
    assert "kaplan2020.L_N" in kaplan and "hoffmann2022.approach3" not in kaplan and len(kaplan) < 40
    from kb.catalog import published  # the sources Kaplan co-authored, from the data, not a fixed list
    coauthored = {k for k, s in published().sources.items() if any("Kaplan" in a for a in s.authors)}
    assert {"kaplan2020", "henighan2020"} <= coauthored
    assert all(i.split(".")[0] in coauthored for i in kaplan), kaplan
    assert res["no-such-law-anywhere"]["rows"] == [] and res["no-such-law-anywhere"]["kinds"] == 0
    assert res["no-such-law-anywhere"]["count"].startswith("0 of ")
    assert len(res[""]["rows"]) == total and res[""]["count"] == f"{total} laws"


# ----------------------------------------------------------------------------- compare --tex, table, cite


def _balanced(tex: str) -> bool:
    depth = 0
    for ch in re.sub(r"\\[{}%$&#_]", "", re.sub(r"(?m)(?<!\\)%.*$", "", tex)):
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def _latex_engine():
    for name in ("pdflatex", "lualatex"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _compile(tex_document: str, workdir: Path) -> None:
    engine = _latex_engine()
    (workdir / "doc.tex").write_text(tex_document, encoding="utf-8")
    r = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
                       cwd=workdir, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]
    assert (workdir / "doc.pdf").is_file()


def test_table_latex_is_booktabs_with_citet_keys(env, tmp_path):
    tex = run(env, "table", "kaplan2020", "hoffmann2022", "--format", "latex").stdout
    for cmd in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}", r"\end{tabular}",
                r"\citet{kaplan2020}", r"\citet{hoffmann2022}"):
        assert cmd in tex, cmd
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    assert _balanced(tex)
    assert r"$\alpha_{N}$ & 0.076" in tex and r"$\alpha$ & 0.34" in tex and "App D.2 eq (10)" in tex
    bib = (ROOT / "references.bib").read_text()
    for key in re.findall(r"\\citet\{([^}]+)\}", tex):
        assert f"{{{key}," in bib, f"\\citet{{{key}}} has no entry in references.bib"
    spec = tex[tex.index(r"\begin{tabular}{") + len(r"\begin{tabular}{"):]
    depth, end = 1, 0
    while depth:
        depth += (spec[end] == "{") - (spec[end] == "}")
        end += 1
    columns = len(re.sub(r"\{[^{}]*\}", "", spec[:end - 1]))
    for line in tex.splitlines():
        if line.endswith(r"\\"):
            assert line.count(" & ") == columns - 1, line
    if _latex_engine():
        _compile("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[round]{natbib}\n"
                 "\\begin{document}\n" + tex + "\n\\nocite{*}\n\\end{document}\n", tmp_path)


def test_table_md_csv_json_and_hostile_text(env):
    md = run(env, "table", "kaplan2020.L_N", "hoffmann2022.approach3", "--format", "md").stdout
    assert md.startswith("| Source |") and "Kaplan et al. (2020)" in md and "| 406.4 |" in md
    csv_text = run(env, "table", "hoffmann2022", "--format", "csv").stdout
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_text)))
    # the headline loss law (approach3), then the headline allocation (approach1: Table 2 exponents), each once
    assert [r["constant"] for r in rows] == ["E", "A", "B", "alpha", "beta", "a", "b"]
    assert rows[0]["value"] == "1.69" and rows[0]["location"] == "App D.2 eq (10)"
    data = json.loads(run(env, "table", "kaplan2020.L_N", "--json").stdout)
    assert data["laws"][0]["constants"][0]["symbol"] == "alpha_N" and data["format"] == "latex"
    tex = run(env, "table", "evil2026.L_N", "--format", "latex").stdout
    assert "<script>" not in tex and r"\textless{}script\textgreater{}" in tex and _balanced(tex)
    assert r"\input" not in tex.replace(r"\textbackslash{}input", "")
    r = run(env, "table", "kaplan2020", "--format", "docx", check=False)
    assert r.returncode == 2 and r.stderr.startswith("kb: error:")
    r = run(env, "table", "nobody2020", check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_compare_tex_document(env, tmp_path):
    out = tmp_path / "cmp.tex"
    run(env, "compare", "kaplan2020", "hoffmann2022", "--tex", out)
    tex = out.read_text(encoding="utf-8")
    assert tex.count(r"\begin{document}") == 1 and tex.rstrip().endswith(r"\end{document}")
    assert r"\citet{kaplan2020}" in tex and r"\bibitem[Kaplan et al.(2020)" in tex and r"\toprule" in tex
    assert r"\[ L(N, D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N/\alpha_D} + \frac{D_c}{D}\right]^{\alpha_D} \]" in tex
    assert r"\VAR{" not in tex and r"\BLOCK{" not in tex and _balanced(tex)
    evil = tmp_path / "evil.tex"
    run(env, "compare", "evil2026.L_N", "kaplan2020.L_N", "--tex", evil)
    etex = evil.read_text(encoding="utf-8")
    assert "<script>" not in etex and _balanced(etex)
    assert not re.search(r"(?<!textbackslash\{\})\\(input|href)\b", etex), "untrusted LaTeX reached the document"
    if _latex_engine():
        _compile(tex, tmp_path)


def test_compare_html_has_three_plots_with_extrapolation_dashed(env, tmp_path):
    out = tmp_path / "r.html"
    run(env, "compare", "kaplan2020", "hoffmann2022", "--html", out)
    html = out.read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        assert 'stroke-dasharray' in svg and "extrapolated" in svg and "inside the fitted range" in svg
        assert '<tspan dy="-5" font-size="8">' in svg  # 10^k tick labels
        assert "Kaplan" in svg and "Chinchilla" in svg  # legend
        solid = re.findall(r'<line [^>]*stroke="#d62728" stroke-width="2.2"/>', svg)
        assert solid, "no solid segment inside the fitted range"
    assert "N_opt" in svgs[0] and "D_opt" in svgs[1] and "Loss" in svgs[2]


def test_cite_formats_and_links(env):
    for fmt in ("bibtex", "text", "markdown"):
        out = run(env, "cite", "hoffmann2022", "--format", fmt).stdout
        assert "Training Compute-Optimal Large Language Models" in out
        for url in re.findall(r"[a-z][a-z0-9+.-]*:[^\s\"<>)]+", out):
            if "://" in url or url.startswith(("javascript:", "data:", "file:", "vbscript:")):
                assert url.startswith(("https://", "http://")), (fmt, url)
    md = run(env, "cite", "kaplan2020", "--format", "markdown").stdout
    assert "[arXiv:2001.08361](<https://arxiv.org/abs/2001.08361>)" in md
    data = json.loads(run(env, "cite", "kaplan2020.L_N", "--format", "text", "--json").stdout)
    assert data["key"] == "kaplan2020" and all(link["url"].startswith("https://") for link in data["reference"]["links"])


def test_render_guards():
    from kb import render

    assert render.safe_url("javascript:alert(1)") == "" and render.safe_url(" JaVaScRiPt:x") == ""
    assert render.safe_url("data:text/html,x") == "" and render.safe_url("//evil.example/x") == ""
    assert render.safe_url("doi:10.1000/xyz") == "https://doi.org/10.1000/xyz"
    assert render.safe_url("https://arxiv.org/abs/2001.08361") == "https://arxiv.org/abs/2001.08361"
    assert render.tex_math(r"\frac{A}{N^{\alpha}}") == r"\frac{A}{N^{\alpha}}"
    for bad in (r"\input{x}", r"x $ y", r"a % b", r"\def\x{1}", r"\frac{a}{b", r"a \\ b", r"\csname x\endcsname",
                r"\immediate\write18{ls}", "\\catcode`\\@=11", "^^5cinput{/etc/passwd}"):
        assert render.tex_math(bad).startswith(r"\mbox{\texttt{"), bad
    assert render.tex_escape("50% of $x_1 & #2 {} ~ ^ \\") == (
        r"50\% of \$x\_1 \& \#2 \{\} \textasciitilde{} \textasciicircum{} \textbackslash{}")
    assert render.tex_symbol("alpha_N") == r"\alpha_{N}" and render.tex_symbol("L_inf") == r"L_{\infty}"
