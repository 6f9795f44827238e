"""Jinja environments (HTML autoescaped, Markdown, LaTeX with its own escaping) and filters.

Formulas become MathML from each law's LaTeX, then pass an allow-list sanitiser:
latex2mathml passes `<script>` and `javascript:` links through, so only MathML elements
and a few presentational attributes survive.

The LaTeX environment uses `\\VAR{...}`, `\\BLOCK{...}` and `\\#{...}` as delimiters (no clash
with TeX braces or `%`), and escapes every value it prints unless a filter marks it as TeX
(`Tex`): `tex` escapes text, `texmath` lets a law's formula through only when it uses an
allow-list of math commands (a user's file could otherwise `\\input` a file or `\\write18`).
"""

import html
import math
import os
import re
from functools import lru_cache
from html.parser import HTMLParser

from markupsafe import Markup

from . import resources, units
from .errors import KbError

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
    return f"{v:#.{digits}g}".rstrip(".")  # '#' keeps trailing zeros: 2.700 beside 2.989


def md_escape(text) -> str:
    """Law-file text for Markdown: punctuation that starts markup or HTML is backslashed, and a
    line break becomes a space, so the text cannot open a heading, list, block or raw HTML."""
    return re.sub(r"([\\`*_{}\[\]<>|#$!~])", r"\\\1", " ".join(str(text or "").split()))


def md_math(latex) -> str:
    """A law's LaTeX inside `$$ ... $$`: on one line, without `$` (which would close the block)
    and with < > & as TeX commands (so no HTML tag can form)."""
    text = " ".join(str(latex or "").split())
    return text.replace("$", "").replace("<", r"\lt ").replace(">", r"\gt ").replace("&", r"\&")


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet will not run (OWASP): text starting with = + - @, tab or CR gets a
    leading apostrophe; a real number (-0.5, +1e3) stays as it is, readable as a number."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(text)
            return text
        except ValueError:
            return "'" + text
    return text


SAFE_URL = re.compile(r"^(https?://[^\s\"'<>]+|doi:[^\s\"'<>]+)$", re.IGNORECASE)


def safe_url(url) -> str:
    """An http(s) URL as is, a `doi:` as its https://doi.org/ link; anything else (javascript:,
    data:, file:, relative) becomes ''."""
    url = str(url or "").strip()
    if not SAFE_URL.match(url):
        return ""
    return "https://doi.org/" + url[4:] if url.lower().startswith("doi:") else url


# ----------------------------------------------------------------------------- LaTeX


class Tex(str):
    """A string that is already TeX: the LaTeX environment prints it unescaped."""


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
                "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_SPECIAL))
GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
         "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho", "sigma", "varsigma", "tau", "upsilon",
         "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
         "Upsilon", "Phi", "Psi", "Omega")
TEX_MATH_COMMANDS = frozenset(GREEK + (
    "mathrm", "mathit", "mathbf", "mathsf", "mathcal", "operatorname", "text", "textrm", "frac", "tfrac", "dfrac",
    "left", "right", "big", "Big", "bigg", "Bigg", "sqrt", "infty", "min", "max", "log", "ln", "exp", "lim",
    "sum", "prod", "prime", "propto", "approx", "sim", "simeq", "times", "cdot", "cdots", "ldots", "dots",
    "hat", "bar", "tilde", "widehat", "overline", "star", "ast", "setminus", "ell", "le", "ge", "leq", "geq",
    "lesssim", "gtrsim", "ll", "gg", "ne", "neq", "equiv", "pm", "mp", "to", "rightarrow", "in", "mid",
    "partial", "quad", "qquad", "lvert", "rvert", "lfloor", "rfloor", "lceil", "rceil", "langle", "rangle"))
_TEX_CONTROL = re.compile(r"\\([A-Za-z]+|.)", re.S)


def tex_escape(text) -> Tex:
    """Plain text -> TeX that prints it literally."""
    if isinstance(text, Tex):
        return text
    return Tex(_TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group()], "" if text is None else str(text)))


def tex_math_safe(latex: str) -> bool:
    """Whether a law's LaTeX uses only allow-listed math commands, balanced braces, and no
    character that leaves math mode or comments out the rest ($ % # & and a double backslash)."""
    if not latex or any(ch in latex for ch in "$%#&@\n\r") or "\\\\" in latex or "^^" in latex:  # ^^5c is a backslash
        return False
    depth = 0
    for ch in re.sub(r"\\[{}]", "", latex):
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    if depth:
        return False
    for m in _TEX_CONTROL.finditer(latex):
        name = m.group(1)
        if name.isalpha() and name not in TEX_MATH_COMMANDS:
            return False
        if not name.isalpha() and name not in ",;:! {}|":
            return False
    return True


def tex_math(latex) -> Tex:
    """A law's LaTeX for inline math (without the $ $), or its text in \\texttt when it is not safe."""
    latex = str(latex or "")
    if tex_math_safe(latex):
        return Tex(latex)
    return Tex(r"\mbox{\texttt{" + tex_escape(latex) + "}}")


def tex_symbol(symbol) -> Tex:
    """An ASCII constant symbol as math: alpha_N -> \\alpha_{N}, L_inf -> L_{\\infty}, C0 -> C_{0}."""
    parts = [p for p in str(symbol or "").split("_") if p]
    if not parts:
        return Tex("")

    def word(w: str) -> str:
        if w in GREEK:
            return "\\" + w
        if w in ("inf", "infty"):
            return r"\infty"
        if w == "eps":
            return r"\epsilon"
        if w == "star":
            return "*"
        return tex_escape(w) if len(w) == 1 else r"\mathrm{" + tex_escape(w) + "}"

    head, rest = parts[0], parts[1:]
    m = re.match(r"^([A-Za-z]+?)(\d+)$", head)
    if m and not rest:
        head, rest = m.group(1), [m.group(2)]
    out = word(head) if head in GREEK or head in ("eps", "inf") or len(head) == 1 else tex_escape(head)
    if rest:
        out += "_{" + ",".join(word(w) for w in rest) + "}"
    return Tex(out)


def tex_num(value, digits: int = 4) -> Tex:
    """A number for TeX: 3.1e+21 -> 3.1\\times10^{21} (in math)."""
    text = num(value, digits)
    if text == "—":
        return Tex("--")
    m = re.match(r"^(-?[\d.]+)e(-?\d+)$", text)
    if m:
        return Tex(f"${m.group(1)}\\times10^{{{int(m.group(2))}}}$")
    return tex_escape(text)


def tex_printed(value) -> Tex:
    """A number as printed in a paper (a string: its digits are kept): 8.8e13 -> $8.8\\times10^{13}$."""
    if value is None:
        return Tex("--")
    text = str(value).strip()
    m = re.match(r"^(-?[\d.]+)[eE]([+-]?\d+)$", text)
    if m:
        return Tex(f"${m.group(1)}\\times10^{{{int(m.group(2))}}}$")
    return tex_escape(text)


def tex_citekey(key) -> Tex:
    """A BibTeX key for \\citet{...}: bibkeys are [a-z0-9_-] (validated); anything else is escaped."""
    key = str(key or "")
    return Tex(key) if re.fullmatch(r"[A-Za-z0-9_:.-]+", key) else tex_escape(key)


def _tex_finalize(value):
    if value is None:
        return ""
    return value if isinstance(value, Tex) else tex_escape(value)


KINDS = ("html", "md", "tex")
MAX_TEMPLATE_VALUE = 10_000_000  # characters/items a template expression may build ('x' * 10**9 would eat memory)


def _sandbox_class():
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class Sandbox(SandboxedEnvironment):
        """Jinja's sandbox (no attribute walks to code), plus caps on `*` and `**`, the two
        operators with which a short template can exhaust memory or time."""

        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context, operator, left, right):
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
                    and right * math.log2(abs(left)) > 4096:
                raise SecurityError(f"{left} ** {right} is too large for a template")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_TEMPLATE_VALUE:
                        raise SecurityError("a repeated sequence this long is too large for a template")
            return super().call_binop(context, operator, left, right)

    return Sandbox


def environment(kind: str, template_dir=None):
    """kind: 'html' (autoescaped), 'md' or 'tex' (own delimiters, own escaping). A user's
    directory overrides the packaged templates (same file names)."""
    if kind not in KINDS:
        raise ValueError(f"unknown template kind {kind!r}")
    return _environment(kind, str(template_dir) if template_dir else "")


@lru_cache(maxsize=16)
def _environment(kind: str, template_dir: str):
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined

    loaders = [FileSystemLoader(template_dir)] if template_dir else []
    loaders.append(FileSystemLoader(str(resources.templates_dir())))
    options = dict(loader=ChoiceLoader(loaders), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                   keep_trailing_newline=True)
    if kind == "tex":
        options.update(block_start_string=r"\BLOCK{", block_end_string="}", variable_start_string=r"\VAR{",
                       variable_end_string="}", comment_start_string=r"\#{", comment_end_string="}",
                       line_statement_prefix=None, line_comment_prefix="%#", autoescape=False,
                       finalize=_tex_finalize)
    else:
        options["autoescape"] = kind == "html"
    env = _sandbox_class()(**options)  # a --templates file is untrusted
    env.filters.update(num=num, si=units.format_si, mathml=mathml, md=md_escape, mdmath=md_math, url=safe_url,
                       tex=tex_escape, texmath=tex_math, texsym=tex_symbol, texnum=tex_num,
                       texprinted=tex_printed, citekey=tex_citekey)
    return env


def render(template: str, kind: str, template_dir=None, **context) -> str:
    """Render a template; any error inside it (syntax, undefined name, a sandbox violation, a
    division by zero, a self-include) is a KbError naming the template file and line. An HTML
    page always leaves here with the Content-Security-Policy `context["csp"]` (default: no
    script at all), whatever the template, even an overriding one, put in its head."""
    if kind == "html":
        context.setdefault("csp", csp(None))
    text = render_template(environment(kind, template_dir), template, **context)
    return with_csp(text, str(context["csp"])) if kind == "html" else text


def csp(script: "str | None") -> str:
    """Content-Security-Policy: inline styles only; the one inline script by its hash, if any."""
    import base64
    import hashlib

    scripts = "'none'"
    if script is not None:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        scripts = f"'sha256-{digest}'"
    return f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {scripts}; base-uri 'none'; form-action 'none'"


def with_csp(page: str, policy: str) -> str:
    """The page with our CSP meta first in its <head> (or first of all, without one). Browsers
    enforce every policy a page declares, so one the template adds can only narrow ours."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy, quote=True)}">'
    if meta in page:
        return page
    head = re.search(r"<head\b[^>]*>", page, re.IGNORECASE)
    at = head.end() if head else 0
    return page[:at] + ("\n" if head else "") + meta + ("" if head else "\n") + page[at:]


def render_template(env, template: str, **context) -> str:
    from jinja2 import TemplateError

    try:
        return env.get_template(template).render(**context)
    except TemplateError as exc:
        name = getattr(exc, "name", None) or getattr(exc, "filename", None) or template
        line = getattr(exc, "lineno", None) or _template_line(exc.__traceback__)[1]
        where = f" (line {line})" if line else ""
        raise KbError(f"template {name}{where}: {' '.join(str(exc).split())}") from None
    except (ArithmeticError, RecursionError, TypeError, ValueError, LookupError, AttributeError) as exc:
        # Errors of the template's own expressions ({{ 1/0 }}, a self-include, a bad filter
        # argument) surface as plain Python exceptions; name the template frame they came from.
        name, line = _template_line(exc.__traceback__)
        where = f" (line {line})" if line else ""
        message = "recursion too deep (does it include itself?)" if isinstance(exc, RecursionError) else \
            f"{type(exc).__name__}: {exc}"
        raise KbError(f"template {name or template}{where}: {' '.join(message.split())}") from None


def _template_line(tb) -> "tuple[str | None, int | None]":
    """(template file name, line) of the innermost template frame of a traceback: Jinja rewrites
    the frames of its compiled code into ones whose file is the template and whose line is the
    template's line."""
    found = (None, None)
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in ("top-level template code", "template") or code.co_name.startswith("block "):
            found = (os.path.basename(code.co_filename), tb.tb_lineno)
        tb = tb.tb_next
    return found
