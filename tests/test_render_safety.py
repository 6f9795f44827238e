"""Nothing executable survives into a report: MathML is sanitised, text is escaped, links are http(s)."""

from kb import cite
from kb.render import environment, mathml, sanitise_mathml


def test_mathml_drops_scripts_and_javascript_links():
    out = str(mathml(r"\href{javascript:alert(1)}{x} + \alpha"))
    assert "javascript" not in out.lower() and "<script" not in out.lower()
    dirty = '<math><mi onclick="x()">a</mi><script>alert(1)</script><mi href="javascript:y">b</mi></math>'
    clean = sanitise_mathml(dirty)
    assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
    assert "<mi>a</mi>" in clean


def test_unreadable_latex_is_shown_escaped():
    out = str(mathml(r"\frac{<script>}{"))
    assert "<script>" not in out


def test_html_environment_escapes_text():
    env = environment("html")
    page = env.from_string("<p>{{ name }}</p>").render(name="<script>alert(1)</script>")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_reference_links_are_http_only():
    for key in cite.keys():
        for link in cite.reference(key)["links"]:
            assert link["url"].startswith(("https://", "http://"))
