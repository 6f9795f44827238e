"""Jinja environments (HTML autoescaped, Markdown) and the filters reports use.

Formulas become MathML from each law's LaTeX, then pass an allow-list sanitiser:
latex2mathml passes `<script>` and `javascript:` links through, so only MathML elements
and a few presentational attributes survive.
"""

import html
import math
import re
from html.parser import HTMLParser

from markupsafe import Markup

from . import resources, units

MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mtext",
    "mspace", "mstyle", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mpadded", "mphantom",
    "semantics", "annotation", "menclose",
}
MATHML_ATTRS = {"display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
                "linethickness", "width", "displaystyle", "scriptlevel", "accent", "accentunder", "form",
                "minsize", "maxsize", "movablelimits", "columnalign", "encoding"}


class _Sanitiser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag not in MATHML_TAGS:
            self.skip += tag in ("script", "style")
            return
        kept = "".join(f' {k}="{html.escape(v or "", quote=True)}"' for k, v in attrs
                       if k in MATHML_ATTRS and "javascript" not in (v or "").lower())
        self.out.append(f"<{tag}{kept}>")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        if tag in MATHML_TAGS:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(html.escape(data))


def sanitise_mathml(markup: str) -> str:
    s = _Sanitiser()
    s.feed(markup)
    s.close()
    return "".join(s.out)


def mathml(latex: str) -> Markup:
    """LaTeX -> sanitised MathML; on LaTeX the converter cannot read, the escaped LaTeX."""
    if not latex:
        return Markup("")
    try:
        from latex2mathml.converter import convert

        return Markup(sanitise_mathml(convert(latex)))
    except Exception:  # latex2mathml raises many kinds on odd input; show the source instead
        return Markup(f"<code>{html.escape(latex)}</code>")


def num(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "—"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        mantissa, exp = f"{v:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exp)}"
    return f"{v:.{digits}g}"


def md_escape(text) -> str:
    return re.sub(r"([\\`*_{}\[\]<>|])", r"\\\1", str(text or ""))


def environment(kind: str, template_dir=None):
    """kind: 'html' (autoescaped) or 'md'. A user's directory overrides the packaged templates."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    loaders = [FileSystemLoader(str(template_dir))] if template_dir else []
    loaders.append(FileSystemLoader(str(resources.templates_dir())))
    env = Environment(loader=ChoiceLoader(loaders), autoescape=(kind == "html"), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(num=num, si=units.format_si, mathml=mathml, md=md_escape)
    return env


def render(template: str, kind: str, template_dir=None, **context) -> str:
    return environment(kind, template_dir).get_template(template).render(**context)
