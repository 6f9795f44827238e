"""`kb lint`: check the scaling-law numbers a draft quotes against the papers.

A claim is a number near the name of a stored paper (its short name, first author, bibkey,
or a model it introduced) and the name of a quantity (alpha_N, "data exponent", E, N_c,
"tokens per parameter", ...), in Markdown, LaTeX or plain text. Each claim is attributed to
stored constants and judged:

    ok             matches the printed value within the precision of the two numbers
    wrong          contradicts the paper (the paper's value and location are reported)
    misattributed  the number is in the paper (or the catalog) but for another quantity or law
    unverifiable   attributed to a paper that prints no such number
    unattributed   (verbose only) a number the linter could not tie to a paper and quantity

Every paper value comes from the catalog (`laws/*.toml`) and `references.bib`; this module
holds only vocabulary (how people write quantity names). Import-light: the catalog loads on
first use, numpy only when a formula claim is evaluated.
"""

import ast
import difflib
import math
import re
import sys
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from .errors import BadFile

VERDICTS = ("ok", "wrong", "misattributed", "unverifiable", "unattributed")


@dataclass
class Finding:
    file: str
    line: int
    col: int
    verdict: str
    claim: str
    law: str = ""
    paper_value: str = ""
    location: str = ""
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def format_finding(f) -> str:
    """'file:line:col: verdict: message (paper location)'."""
    d = f if isinstance(f, dict) else f.as_dict()
    loc = f" ({d['location']})" if d.get("location") else ""
    return f"{d['file']}:{d['line']}:{d['col']}: {d['verdict']}: {d['message']}{loc}"


# ============================================================================ text normalisation

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "eta": "η", "delta": "δ", "epsilon": "ε",
          "varepsilon": "ε", "rho": "ρ", "sigma": "σ", "lambda": "λ", "mu": "μ", "tau": "τ"}
_COMMANDS = {"approx": "≈", "sim": "~", "simeq": "≈", "propto": "∝", "times": "×", "cdot": "·",
             "infty": "∞", "min": "min", "gtrsim": "≳", "geq": "≥", "leq": "≤", "ge": "≥", "le": "≤",
             "ast": "*", "star": "*", "%": "%", "_": "_", "&": "&", "$": "$", "#": "#", ",": " ",
             ";": " ", "!": "", " ": " ", "quad": " ", "qquad": " ", "ldots": "...", "dots": "...",
             "textendash": "–", "textasciitilde": "~"}
_SILENT = {"mathrm", "text", "mathit", "mathbf", "operatorname", "hat", "tilde", "left", "right",
           "displaystyle", "big", "Big", "bigl", "bigr", "textrm", "textit", "mathcal", "bar", "boldsymbol"}
_UNICODE = {"−": "-", "‐": "-", "‑": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " ",
            "\u2009": " ", "\u202f": " ", "∗": "*", "⋅": "·", "⁻": "-", "ₙ": "_n", "𝛼": "α", "𝛽": "β"}


def _normalize(s: str) -> "tuple[str, list[int]]":
    """LaTeX/Unicode -> one plain notation, with a map from each output char to its source index.
    \\alpha_{N} -> α_N; x^{y} -> x^(y); \\frac{a}{b} -> ((a)/(b)); $ and other braces vanish."""
    out, idx, stack = [], [], []
    pending = None  # 'frac1' / 'frac2' while reading \frac's groups
    i, n = 0, len(s)

    def emit(text, at):
        for ch in text:
            out.append(ch)
            idx.append(at)

    while i < n:
        ch = s[i]
        if ch == "\\":
            m = re.compile(r"\\([A-Za-z]+|.)").match(s, i)
            cmd = m.group(1) if m else ""
            end = m.end() if m else i + 1
            if cmd == "frac" or cmd == "dfrac" or cmd == "tfrac":
                emit("((", i)
                pending = "frac1"
            elif cmd in _GREEK:
                emit(_GREEK[cmd], i)
            elif cmd in _COMMANDS:
                emit(_COMMANDS[cmd], i)
            elif cmd in _SILENT:
                pass
            elif cmd.startswith("cite") or cmd in ("ref", "eqref", "label", "url", "href"):
                emit(" \\" + cmd + " ", i)
            else:
                emit("\\" + cmd + " ", i)
            i = end
            continue
        if ch == "{":
            if pending == "frac1" or pending == "frac2":
                stack.append(pending)
                pending = None
            elif out and out[-1] == "^":
                stack.append("paren")
                emit("(", i)
            else:
                stack.append("none")
            i += 1
            continue
        if ch == "}":
            kind = stack.pop() if stack else "none"
            if kind == "frac1":
                emit(")/(", i)
                pending = "frac2"
            elif kind == "frac2":
                emit("))", i)
            elif kind == "paren":
                emit(")", i)
            i += 1
            continue
        if ch == "$":
            i += 1
            continue
        if ch == "~":
            nxt = s[i + 1:i + 3]
            emit("~" if nxt[:1].isdigit() or nxt[:1] == " " or nxt[:1] == "$" or (nxt[:1] == "\\") else " ", i)
            i += 1
            continue
        emit(_UNICODE.get(ch, ch), i)
        i += 1
    return "".join(out), idx


def _blank(text: str, pattern: str, flags=0) -> str:
    """Replace matches with spaces, keeping newlines (offsets stay valid)."""
    return re.sub(pattern, lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=flags)


# ============================================================================ numbers

_SCALE = {"thousand": 3, "k": 3, "K": 3, "million": 6, "M": 6, "billion": 9, "B": 9, "bn": 9,
          "trillion": 12, "T": 12}
NUM_RE = (r"(?<![\w.])(?P<sign>[-+]?)(?P<mant>\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)"
          r"(?:(?P<e>[eE][-+]?\d+)|\s*[×x·*]\s*10\s*\^\s*\(?(?P<p>[-+]?\d+)\)?"
          r"|(?P<sw>\s?(?:thousand|million|billion|trillion)\b|(?:[kKMBT]|bn)(?![A-Za-z]))"
          r"|(?P<pct>\s?(?:%|percent\b)))?")
_NUM = re.compile(NUM_RE)
_POW10 = re.compile(r"(?<![\w.])10\s*\^\s*\(?(?P<p>[-+]?\d+)\)?")
_NUMBER_TOKEN = re.compile(r"\d")


@dataclass
class _Number:
    start: int  # in normalised text
    end: int
    value: Decimal
    percent: bool = False

    @property
    def f(self) -> float:
        return float(self.value)


def _numbers(text: str) -> "list[_Number]":
    found = []
    pow10 = [(m.start(), m.end(), int(m.group("p"))) for m in _POW10.finditer(text)]
    for a, b, p in pow10:
        found.append(_Number(a, b, Decimal(1).scaleb(p)))
    taken = [(a, b) for a, b, _ in pow10]
    for m in _NUM.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue
        if m.group("p"):  # 8.8 x 10^13: drop the bare 10^13 inside it
            found = [x for x in found if not (m.start() <= x.start < m.end())]
        s = text[max(0, m.start() - 2):m.start()]
        if re.search(r"[A-Za-z]-$|[A-Za-z]$", s) and not re.search(r"[=(]", s):
            continue  # GPT-3, L2, x86
        mant = Decimal(m.group("mant").replace(",", ""))
        if m.group("sign") == "-":
            mant = -mant
        pct = bool(m.group("pct"))
        if m.group("e"):
            value = Decimal(m.group("mant").replace(",", "") + m.group("e"))
            value = -value if m.group("sign") == "-" else value
        elif m.group("p"):
            value = mant.scaleb(int(m.group("p")))
        elif m.group("sw"):
            value = mant.scaleb(_SCALE[m.group("sw").strip()])
        elif pct:
            value = mant.scaleb(-2)
        else:
            value = mant
        found.append(_Number(m.start(), m.end(), value, pct))
    found.sort(key=lambda x: x.start)
    return found


def _ulp(d: Decimal) -> float:
    return 0.5 * 10.0 ** d.as_tuple().exponent


def _close(claim: Decimal, printed, extra: float = 0.0) -> bool:
    """Equal within half a unit of the last digit of the coarser of the two numbers."""
    try:
        p = printed if isinstance(printed, Decimal) else Decimal(str(printed))
    except InvalidOperation:
        return False
    if isinstance(printed, float):
        tol = _ulp(claim)
    else:
        tol = max(_ulp(claim), _ulp(p))
    return abs(float(claim) - float(p)) <= tol * (1 + 1e-9) + extra + 1e-12 * abs(float(p))


def _same_digits(claim: Decimal, printed: str) -> bool:
    """The claim reproduces a printed number digit for digit (at least two significant digits):
    the evidence needed to say a number was taken from another paper."""
    p = Decimal(printed)
    return (claim == p and len(claim.normalize().as_tuple().digits) >= 2
            and claim.as_tuple().exponent <= p.as_tuple().exponent)


def _fmt(x: float) -> str:
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3g}"


# ============================================================================ the catalog, seen by the linter


@dataclass
class _Value:
    source: str
    law: str  # law id
    symbol: str
    printed: str
    location: str
    roles: frozenset
    kind: str = "constant"  # constant / alternative / check / derived
    note: str = ""
    tol: float = 0.0
    foreign: str = ""  # bibkey this value belongs to when a paper quotes another paper

    @property
    def f(self) -> float:
        return float(self.printed)


@dataclass
class _Index:
    catalog: object
    names: "list[tuple[str, str]]" = field(default_factory=list)  # (name, bibkey)
    name_re: "re.Pattern | None" = None
    values: "list[_Value]" = field(default_factory=list)
    by_source: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)  # bibkey -> {hint key: {law ids}}
    ranges: dict = field(default_factory=dict)  # bibkey -> [(dim, lo, hi, law, location)]
    bib: dict = field(default_factory=dict)  # bibkey -> {"eprint", "year", "title", "titles"}
    rule_of_thumb: dict = field(default_factory=dict)  # bibkey -> [(value, note)]
    flops: "object | None" = None  # the C = k N D rule law
    flops_factor: float = 0.0


# Vocabulary only: names under which people cite stored papers beyond their catalog names.
_ALIASES = {"OpenAI": "kaplan2020", "Epoch AI": "besiroglu2024", "Epoch": "besiroglu2024"}
_NAME_STOP = {"transfer", "emergence", "sparsity", "distillation", "learning", "fine-grained", "routed",
              "precision", "multimodal", "over-training", "inference-aware", "data-constrained", "theory"}
_DIMS = {"params": "params", "tokens": "tokens", "FLOP": "compute", "PF-days": "compute"}


def _dimension(unit: str):
    from . import units

    d = units.dimension(unit)
    if d:
        return d
    return {"steps": "steps", "nats/token": None}.get(unit)


def _hint_key(text: str) -> str:
    """'L(N, D)' / '\\hat L(N,D)' / 'L(C_min)' -> 'L(N,D)', 'L(C)'."""
    m = re.search(r"L\s*\(([^)]*)\)", text)
    if not m:
        return ""
    args = [a.strip()[:1] for a in m.group(1).split(",") if a.strip()]
    return "L(" + ",".join(args) + ")"


def _symbol_roles(sym: str) -> "set[tuple]":
    """Roles a conventional symbol name carries on its own (alpha_N, N_c, p_D, E, ...)."""
    m = re.fullmatch(r"(?:alpha|p|beta)_(N|D|C|S|B)(?:_min)?", sym)
    dim = {"N": "params", "D": "tokens", "C": "compute", "S": "steps", "B": "batch"}
    if m and sym.startswith("alpha"):
        return {("exp", "loss", dim[m.group(1)])}
    m = re.fullmatch(r"(N|D|C|S)_c(?:_min)?", sym)
    if m:
        return {("scale", dim[m.group(1)])}
    if sym in ("E", "L_inf", "L_0"):
        return {("irreducible",)}
    return set()


def _ast_roles(law, text: str, out_dim) -> "dict[str, set]":
    """Roles of constants from the formula's shape: exponents of variables, coefficients, offsets."""
    dims = {v.symbol: _dimension(v.unit) for v in law.variables}
    consts = {c.symbol for c in law.constants} | {w for w, _ in law.where}
    roles: "dict[str, set]" = {}
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return roles

    def names(node):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}

    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base_dims = {dims[x] for x in names(node.left) if x in dims and dims[x]}
            exps = names(node.right) & consts
            if len(base_dims) == 1:
                d = base_dims.pop()
                for e in exps:
                    roles.setdefault(e, set()).add(("exp", out_dim or "loss", d))
                for c in names(node.left) & consts:
                    roles.setdefault(c, set()).add(("scale", d))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Mult)):
            if isinstance(node.left, ast.Name) and node.left.id in consts:
                right_dims = {dims[x] for x in names(node.right) if x in dims and dims[x]}
                if len(right_dims) == 1 and isinstance(node.right, ast.BinOp) and isinstance(node.right.op, ast.Pow):
                    roles.setdefault(node.left.id, set()).add(("coef", right_dims.pop()))
    # an additive constant at the top level of a loss law: the irreducible loss
    if law.kind == "loss":
        terms, stack = [], [tree]
        while stack:
            t = stack.pop()
            if isinstance(t, ast.BinOp) and isinstance(t.op, ast.Add):
                stack += [t.left, t.right]
            else:
                terms.append(t)
        if len(terms) > 1:
            for t in terms:
                if isinstance(t, ast.Name) and t.id in consts:
                    roles.setdefault(t.id, set()).add(("irreducible",))
    return roles


def _pyeval(text: str, env: dict):
    """Evaluate an arithmetic law expression without numpy (formula language; checked by the schema)."""
    code = compile(ast.parse(text, mode="eval"), "<law>", "eval")
    scope = {"__builtins__": {}, "log": math.log, "exp": math.exp, "sqrt": math.sqrt, "ln": math.log,
             "log10": math.log10, "log2": math.log2, "abs": abs, "min": min, "max": max, "tanh": math.tanh}
    scope.update(env)
    return eval(code, scope)


def _read_bib(path: Path) -> dict:
    out = {}
    text = path.read_text(encoding="utf-8")
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.S):
        key, body = m.group(1), m.group(2)
        fields = {k.lower(): v for k, v in re.findall(r"(\w+)\s*=\s*\{(.*?)\}\s*,?\s*$", body, re.M)}
        titles = [re.sub(r"[{}]", "", fields.get("title", ""))]
        note = fields.get("note", "")
        nt = re.search(r"(?:arXiv )?title:\s*(.+)$", note)
        if nt:
            titles.append(nt.group(1).strip())
        out[key] = {"eprint": fields.get("eprint", ""), "year": fields.get("year", ""), "titles": titles}
    return out


@lru_cache(maxsize=1)
def _index() -> _Index:
    from . import resources
    from .catalog import published

    cat = published()
    ix = _Index(cat)
    own_names: "dict[str, set]" = {}
    for key, src in cat.sources.items():
        names = {key}
        short = re.sub(r"\s*\(.*?\)", "", src.short).strip()
        first = re.split(r"[\s,/]+", short)[0] if short else ""
        for cand in (short, first):
            if (cand and len(cand) >= 3 and cand[0].isupper() and cand.lower() not in _NAME_STOP
                    and not re.search(r"\d-|^M\d", cand) and " of " not in cand):
                names.add(cand)
        if src.authors:
            surname = src.authors[0].split()[-1]
            surname = surname[:-3] if surname.endswith("-AI") else surname
            names.add(surname)
        own_names[key] = {x.lower() for x in names}
        ix.names += [(x, key) for x in names]
    ix.names += [(a, k) for a, k in _ALIASES.items() if k in cat.sources]
    ix.names.sort(key=lambda t: -len(t[0]))
    alts = "|".join(re.escape(x) for x, _ in ix.names)
    ix.name_re = re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])")
    owner_of = {}
    for key, names in own_names.items():
        for x in names:
            owner_of.setdefault(x, key)

    for law in cat.laws.values():
        src = law.source
        ix.by_source.setdefault(src, [])
        hk = _hint_key(_normalize(law.latex.split("=")[0])[0]) if law.latex else ""
        hints = ix.hints.setdefault(src, {})
        if hk:
            hints.setdefault(hk, set()).add(law.id)
        m = re.search(r"Approach (\d)", law.title)
        if m:
            hints.setdefault(f"approach {m.group(1)}", set()).add(law.id)
        foreign = ""
        for t in re.findall(r"[\w-]+", law.title) if re.search(r"\bquoted\b|as reported by|as cited", law.title) else ():
            if t.lower() in owner_of and owner_of[t.lower()] != src and t.lower() not in own_names[src]:
                foreign = owner_of[t.lower()]
        for v in law.variables:
            if v.fitted:
                ix.ranges.setdefault(src, []).append((_dimension(v.unit), v.fitted[0], v.fitted[1], law.id,
                                                      f"{law.location}; fitted range of {v.symbol}"))
        if law.kind == "qualitative" or not law.formula:
            continue
        out_dim = _dimension(law.predicts.unit) if law.kind != "loss" else None
        roles = _ast_roles(law, law.formula, out_dim)
        for o in law.outputs:
            for k, r in _ast_roles(law, o.formula, _dimension(o.unit)).items():
                roles.setdefault(k, set()).update(r)
        primary = {}
        for c in law.constants:
            r = frozenset(_symbol_roles(c.symbol) or roles.get(c.symbol, set()))
            if c.printed is not None:
                primary[c.symbol] = c.printed
                ix.values.append(_Value(src, law.id, c.symbol, c.printed, c.location, r, "constant", c.note,
                                        foreign=foreign))
            for a in c.alternatives:
                ix.values.append(_Value(src, law.id, c.symbol, a.value, a.location, r, "alternative", a.note,
                                        foreign=foreign))
        env = {c.symbol: c.value for c in law.constants if c.printed is not None}
        for name, expr in law.where:
            try:
                env[name] = _pyeval(expr, env)
            except Exception:
                continue
            r = frozenset(roles.get(name, set()))
            ix.values.append(_Value(src, law.id, name, repr(env[name]), f"{law.location} (computed)", r,
                                    "derived", "computed from the printed constants", foreign=foreign))
        for chk in law.checks:
            if chk.inconsistent or not re.fullmatch(r"[A-Za-z_]\w*", chk.expr.strip()):
                continue
            r = frozenset(roles.get(chk.expr.strip(), set()) | _symbol_roles(chk.expr.strip()))
            ix.values.append(_Value(src, law.id, chk.expr.strip(), chk.expect, chk.location, r, "check",
                                    chk.note, chk.tolerance, foreign=foreign))
        # the compute rule C = k N D
        if (law.kind == "rule" and law.predicts.symbol == "C" and {v.symbol for v in law.variables} == {"N", "D"}
                and not law.constants and ix.flops is None):
            try:
                k = _pyeval(law.formula, {"N": 1.0, "D": 1.0})
                if _pyeval(law.formula, {"N": 2, "D": 3}) == 6 * k:
                    ix.flops, ix.flops_factor = law, k
            except Exception:
                pass
    for v in ix.values:
        ix.by_source.setdefault(v.source, []).append(v)
    # ranges and rules of thumb printed in notes
    for key, src in cat.sources.items():
        texts = [(n.text, n.location) for n in src.notes]
        for law in cat.laws_of(key):
            texts += [(n.text, n.location or law.location) for n in law.notes]
        for text, loc in texts:
            norm = _normalize(text)[0]
            for m in _RANGE.finditer(norm):
                lo, hi = _numbers(m.group("a")), _numbers(m.group("b"))
                if lo and hi:
                    ix.ranges.setdefault(key, []).append((_unit_dim(m.group("unit")), lo[0].f, hi[0].f, key,
                                                          loc or "notes"))
            for m in re.finditer(r"(\d+(?:\.\d+)?) tokens per parameter'? is a rule of thumb", norm):
                ix.rule_of_thumb.setdefault(key, []).append((Decimal(m.group(1)), text))
    ix.bib = _read_bib(resources.bibliography())
    return ix


def _unit_dim(word: str):
    w = (word or "").lower()
    if "token" in w:
        return "tokens"
    if "flop" in w or "pf-day" in w:
        return "compute"
    return "params"


# ============================================================================ claim vocabulary

_NUMX = r"(?:[-+]?(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+|\s*[×x·*]\s*10\s*\^\s*\(?[-+]?\d+\)?|\s?(?:thousand|million|billion|trillion)\b|(?:[kKMBT]|bn)(?![A-Za-z]))?|10\s*\^\s*\(?[-+]?\d+\)?)"
_APPROX = r"(?:\s*(?:=|≈|~|≃|:=|:|is|of|at|around|about|roughly|approximately|approx\.?|near|equal to|equals|close to|was|were|be|as|only|just|\(|≥|≤)\s*)*"
_RANGE = re.compile(
    rf"(?:from|between|spanning|range of|ranging from)\s+(?:about |roughly |around |~)?(?P<a>{_NUMX})\s*(?:parameters|params)?\s*"
    rf"(?:to|and|-|–|—|up to)\s*(?:over |about |roughly |around |~|more than )?(?P<b>{_NUMX})\s*"
    rf"(?P<unit>(?:non-embedding |total )?(?:parameters|params|tokens)|FLOPs?|PF-days)")

# quantity vocabulary: regex -> (symbol or "", role or None)
_QUANT = [
    (r"(?:parameter|model[- ]size|size)(?:[- ]count)?(?: scaling)? exponent|exponent (?:for|of|on) (?:the )?(?:model size|parameters|parameter count|N)\b", "", ("exp", "loss", "params")),
    (r"data(?:set)?(?:[- ]size)?(?: scaling)? exponent|token exponent|exponent (?:for|of|on) (?:the )?(?:data(?:set)?(?: size)?|tokens|D)\b", "", ("exp", "loss", "tokens")),
    (r"compute(?: scaling)? exponent|exponent (?:for|of|on) (?:the )?compute", "", ("exp", "loss", "compute")),
    (r"irreducible (?:loss|term|error)|entropy (?:of|term)(?: natural)?(?: text)?|loss floor", "E", ("irreducible",)),
    (r"critical batch(?: size)? (?:scale|constant)", "B_star", None),
]
_QUANT = [(re.compile(p, re.I), s, r) for p, s, r in _QUANT]
_SYM = re.compile(
    r"(?<![A-Za-z0-9_\\])(?P<sym>(?:α|β|γ|η|alpha|beta|gamma|eta)(?:_?\(?[A-Za-z]+\)?)?(?:[_^]\(?min\)?)?"
    r"|[NDCS]_(?:c|e)(?:[_^]\(?min\)?)?|[A-Z](?:_[A-Za-z]{1,3})?\s?_?\^?\(?\*\)?|B_star|L_?(?:∞|inf|0)|[EABab])"
    r"(?=\s*(?:=|≈|~|≃|:=)\s*[-+]?[\d.])")
_ALLOC = re.compile(
    r"(?P<lhs>N_?opt|N|D_?opt|D|optimal (?:model size|number of parameters|parameter count|data(?:set)? size|number of tokens|token count)"
    r"|model size|parameters|parameter count|data(?:set)? size|data|training tokens|tokens)"
    r"(?:\(C\))?\s*(?:should |would |must )?(?:∝|~|≈|=|scales? (?:as|like|with)|grows? (?:as|like|with)|increases? (?:as|like|with)|propto)"
    r"\s*(?:\(\s*)?(?:[\d.eE+×^()-]*\s*)?(?P<var>C|N)(?:_?min)?\s*\)?\s*\^\s*\(?\s*(?P<num>[-+]?\d*\.\d+|[-+]?\d+)")
_SHARE = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)\s*(?:%|percent)\s*of (?:the |each |every |any |additional |extra |a |an )*(?:increase in )?"
    r"(?:compute|FLOPs?)(?: budget)?(?: growth| increases?| increment)?[^.;]{0,40}?\b(?:to|on|into|for|in) "
    r"(?:the |a )?(?P<what>model size|larger models?|model|parameters|data(?:set)?(?: size)?|more data|tokens|training tokens)")
_DOUBLE = re.compile(
    r"doubling (?:the )?(?P<w1>model size|model|parameters|parameter count|N|data(?:set)?(?: size)?|training tokens|tokens|D|compute|C)"
    r"[^.;]{0,70}?(?:by |of |reduces? (?:the )?loss by |lowers? (?:the )?loss by )?(?:about |roughly |around |~|≈)?(?P<num>\d+(?:\.\d+)?)\s*(?:%|percent)"
    r"|(?P<num2>\d+(?:\.\d+)?)\s*(?:%|percent)[^.;]{0,50}?(?:per|each|every|for each|for every|with each|with every) doubling (?:of |in )?(?:the )?"
    r"(?P<w2>model size|model|parameters|parameter count|N|data(?:set)?(?: size)?|training tokens|tokens|D|compute|C)"
    r"|doubling (?:the )?(?P<w3>model size|model|parameters|N|data(?:set)?|tokens|D|compute|C)[^.;]{0,40}?multipl\w+ (?:the )?loss by (?:about |roughly |~|≈)?(?P<num3>\d*\.\d+)",
    re.I)
_TPP = re.compile(
    rf"(?P<num>{_NUMX})\s*(?::1\s*)?(?:training )?tokens?(?:[- ]to[- ]parameters?)?\s*(?:per|/|for each|for every|per each)\s*(?:model )?param(?:eter)?s?\b"
    rf"|(?:tokens?[- ]per[- ]param(?:eter)?s?|tokens?/param(?:eter)?s?|tokens?[- ]to[- ]param(?:eter)?s?(?: ratio)?|D\s*/\s*N)(?: ratio)?{_APPROX}(?P<num2>{_NUMX})",
    re.I)
_HINT = re.compile(r"L\s*\(\s*[A-Za-z_]+(?:\s*,\s*[A-Za-z_]+)*\s*\)|Approach(?:es)?\s+(?P<ap>\d)", re.I)
_FORMULA = re.compile(r"(?<![\w])(?P<lhs>L|Loss|loss|[A-Zη]_?opt|[A-Zη]_?\(?opt\)?)\s*(?P<args>\([^()=]{1,20}\))?\s*(?:=|≈)\s*(?P<rhs>[^=;,]{3,160}?)(?=$|\s*[;,]|\s+(?:with|where|and|for|which|is|fitted|in|from|on)\b|\.\s|\.$|\s*\$)")
_EXCLUDE = re.compile(r"(?:Table|Tab\.|Figure|Fig\.|Section|Sec\.|Sect\.|eq\.|Eq\.|Eqs?\.?|Equation|equation|Approach(?:es)?|Appendix|App\.?|Chapter|Llama|GPT|PaLM|Gemini|Claude|Qwen|Mistral|Phi|T|v)\s*\(?$")
_ARXIV = re.compile(r"(?:arXiv\s*:?\s*|arxiv\.org/(?:abs|pdf)/)(?P<id>\d{4}\.\d{4,5})(?:v\d+)?", re.I)
_EMBED = re.compile(r"(?P<neg>non-?embedding|exclud(?:e|es|ing) (?:the )?(?:vocabulary and positional )?embeddings?|without (?:the )?embeddings?|embeddings? (?:are )?excluded)"
                    r"|(?P<tot>total (?:parameter|param)s?(?: count)?|includ(?:e|es|ing) (?:the )?embeddings?|all (?:the )?parameters|with embeddings|embeddings? (?:are )?included)", re.I)
_COUNT_VERB = re.compile(r"\b(?:count|counts|counted|counting|N|parameters|param|measure[sd]?|use[sd]?)\b")
_FIRST_PERSON = re.compile(r"\b(?:we|our|us|We|Our)\b")
_CONTRAST = re.compile(r"\b(?:while|whereas|but|unlike|however|in contrast|compared (?:to|with)|versus|vs\.?)\b|;", re.I)
_RULE_WORDS = re.compile(r"rule of thumb|heuristic|rule-of-thumb|Chinchilla itself|Chinchilla model|70B|1\.4T|trained (?:on|with)|was trained", re.I)
_LAW_WORDS = re.compile(r"optimal|optimum|law|predicts?|implies|fit|eq(?:uation)?|Approach|prescri|recommend", re.I)


# ============================================================================ the linter


class _Doc:
    def __init__(self, text: str, name: str):
        self.name, self.raw = name, text
        masked = _blank(text, r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)  # fenced code
        masked = _blank(masked, r"(?<!\\)%[^\n]*") if re.search(r"\\(?:begin|section|documentclass|cite)", text) else masked
        masked = _blank(masked, r"<!--.*?-->", re.S)
        self.norm, self.idx = _normalize(masked)
        self.idx.append(len(text))
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def pos(self, norm_i: int) -> "tuple[int, int]":
        import bisect

        orig = self.idx[min(max(norm_i, 0), len(self.idx) - 1)]
        line = bisect.bisect_right(self.line_starts, orig)
        return line, orig - self.line_starts[line - 1] + 1

    def snippet(self, a: int, b: int) -> str:
        oa, ob = self.idx[a], self.idx[min(b, len(self.idx) - 1)]
        if b >= len(self.idx) - 1:
            ob = len(self.raw)
        return " ".join(self.raw[oa:ob].split())[:200]


_ABBREV = re.compile(r"(?:et al|e\.g|i\.e|eq|Eq|eqs|Fig|Sec|Sect|Tab|App|approx|cf|vs|resp|No|Ref|ca|Dr|Mr|Ms)\.$")


def _sentences(text: str, start: int, end: int):
    """(a, b) spans of sentences inside text[start:end]."""
    a = start
    for m in re.finditer(r"[.!?](?=\s+[A-Z\\(\[$*_\"'`])|\n\s*[-*+]\s|\n\s*\d+\.\s|\n\s*\\item\b", text[start:end]):
        j = start + m.start()
        if text[j] == "." and (_ABBREV.search(text[max(a, j - 6):j + 1]) or re.search(r"\d\.$", text[j - 1:j + 1]) and text[j + 1:j + 2].isdigit()):
            continue
        yield a, j + 1
        a = j + 1
    if a < end:
        yield a, end


class _Linter:
    def __init__(self, doc: _Doc, verbose: bool):
        self.doc, self.verbose, self.ix = doc, verbose, _index()
        self.out: "list[Finding]" = []

    # -------------------------------------------------------------- output
    def add(self, start, end, verdict, law="", paper="", location="", message=""):
        line, col = self.doc.pos(start)
        self.out.append(Finding(self.doc.name, line, col, verdict, self.doc.snippet(start, end), law, paper,
                                location, message))

    # -------------------------------------------------------------- driver
    def run(self):
        text = self.doc.norm
        heading_ctx: "list[str]" = []
        for pm in re.finditer(r"(?:[^\n]+(?:\n(?![ \t]*\n)(?![ \t]*#)(?![ \t]*\\(?:sub)*section))?)+", text):
            p0, p1 = pm.start(), pm.end()
            ptext = text[p0:p1]
            is_heading = bool(re.match(r"\s*(?:#|\\(?:sub)*section)", ptext))
            para_ctx: "list[str]" = []
            if is_heading:
                heading_ctx = [k for _, k in self._mentions(p0, p1)]
            for a, b in _sentences(text, p0, p1):
                mentions = self._mentions(a, b)
                if mentions:
                    para_ctx = [k for _, k in mentions]
                    ctx = []
                elif _FIRST_PERSON.search(text[a:b]):
                    ctx = []
                else:
                    ctx = para_ctx or heading_ctx
                self.sentence(a, b, mentions, ctx)

    def _mentions(self, a, b) -> "list[tuple[int, str]]":
        return [(a + m.start(), dict(self.ix.names)[m.group(0)]) for m in self.ix.name_re.finditer(self.doc.norm[a:b])]

    def _source_at(self, pos, mentions, ctx, a=None) -> "str | None":
        before = [(p, k) for p, k in mentions if p <= pos]
        if before:
            # the nearest mention before the claim, unless a contrast word separates them
            p, k = before[-1]
            return k
        after = [(p, k) for p, k in mentions if p > pos]
        if after:
            return after[0][1]
        return ctx[0] if ctx else None

    def _sources_at(self, pos, mentions, ctx) -> "list[str]":
        first = self._source_at(pos, mentions, ctx)
        rest = [k for _, k in mentions if k != first]
        return ([first] if first else []) + list(dict.fromkeys(rest))

    def _hints(self, a, pos, source) -> "set[str]":
        text = self.doc.norm[a:pos]
        found = list(_HINT.finditer(text))
        if not found or not source:
            return set()
        m = found[-1]
        key = f"approach {m.group('ap')}" if m.group("ap") else _hint_key(m.group(0))
        return set(self.ix.hints.get(source, {}).get(key.lower() if key.startswith("Approach") else key, set()))

    # -------------------------------------------------------------- one sentence
    def sentence(self, a, b, mentions, ctx):
        text = self.doc.norm
        s = text[a:b]
        if not _NUMBER_TOKEN.search(s) and not mentions:
            return
        nums = _numbers(s)
        used: "set[int]" = set()  # starts (relative) of numbers consumed

        def consume(x0, x1):
            for n in nums:
                if x0 <= n.start < x1:
                    used.add(n.start)

        # exclusions: section/table/equation references, years in citations, arXiv ids
        for n in nums:
            if _EXCLUDE.search(s[max(0, n.start - 12):n.start]):
                used.add(n.start)
        for m in _ARXIV.finditer(s):
            consume(m.start(), m.end())
            self.arxiv(a, m, mentions, ctx)
        self.citations(a, s, nums, mentions, used)
        self.titles(a, b, mentions, ctx)
        for m in _FORMULA.finditer(s):
            if self.formula(a, m, mentions, ctx):
                consume(m.start(), m.end())
        for m in _DOUBLE.finditer(s):
            self.doubling(a, m, mentions, ctx)
            consume(m.start(), m.end())
        for m in _SHARE.finditer(s):
            src = self._source_at(a + m.start(), mentions, ctx)
            if src:
                role = ("exp", "params" if _unit_dim(m.group("what")) == "params" and "data" not in m.group("what").lower()
                        else "tokens", "compute")
                if re.search(r"data|token", m.group("what"), re.I):
                    role = ("exp", "tokens", "compute")
                v = Decimal(m.group("num")).scaleb(-2)
                self.judge(a + m.start(), a + m.end(), src, v, "", role, self._hints(a, a + m.start(), src),
                           self._sources_at(a + m.start(), mentions, ctx), what="share of compute growth")
                consume(m.start(), m.end())
        for m in _TPP.finditer(s):
            self.tokens_per_param(a, b, m, mentions, ctx)
            consume(m.start(), m.end())
        for m in _RANGE.finditer(s):
            if self.fitted_range(a, m, mentions, ctx):
                consume(m.start(), m.end())
        self.compute_rule(a, s, mentions, ctx, consume)
        self.embedding(a, s, mentions)
        for m in _ALLOC.finditer(s):
            n_at = m.start("num")
            if n_at in used:
                continue
            lhs = m.group("lhs").lower()
            out = "tokens" if re.match(r"d|data|training tokens|tokens|optimal data|optimal number of tokens|optimal token", lhs) else "params"
            var = "params" if m.group("var") == "N" else "compute"
            if var == "params" and out == "params":
                continue
            src = self._source_at(a + m.start(), mentions, ctx)
            num = next((x for x in nums if x.start == n_at or (x.start > n_at - 2 and x.start <= n_at)), None)
            if src and num is not None:
                self.judge(a + m.start(), a + m.end(), src, num.value, "", ("exp", out, var),
                           self._hints(a, a + m.start(), src), self._sources_at(a + m.start(), mentions, ctx),
                           what="D ∝ N^x" if var == "params" else f"{'N' if out == 'params' else 'D'}_opt ∝ C^x",
                           text=s)
                used.add(num.start)
        # constants named by a symbol or a phrase
        quants = []
        for m in _SYM.finditer(s):
            quants.append((m.start(), m.end(), _canon_symbol(m.group("sym")), None))
        for rx, sym, role in _QUANT:
            for m in rx.finditer(s):
                quants.append((m.start(), m.end(), sym, role))
        quants.sort()
        for n in nums:
            if n.start in used:
                continue
            q = self._nearest_quantity(s, quants, nums, n)
            src = None
            if q is not None:
                src = self._source_at(a + q[0], mentions, ctx)
            if q is None or src is None:
                if self.verbose and not self._boring(s, n):
                    self.add(a + n.start, a + n.end, "unattributed", message=f"{_fmt(n.f)}: no paper and quantity to check it against")
                continue
            sym, role = q[2], q[3]
            if not role and sym:
                r = _symbol_roles(sym)
                role = next(iter(r)) if r else None
            self.judge(a + min(q[0], n.start), a + max(q[1], n.end), src, n.value, sym, role,
                       self._hints(a, a + n.start, src), self._sources_at(a + q[0], mentions, ctx))
            used.add(n.start)

    @staticmethod
    def _boring(s, n) -> bool:
        v = n.f
        return (1900 <= v <= 2100 and float(v).is_integer()) or (v.is_integer() and 0 <= v <= 10 and not n.percent
                                                                   and n.value.as_tuple().exponent >= 0)

    @staticmethod
    def _nearest_quantity(s, quants, nums, n):
        best = None
        for q in quants:
            if q[1] <= n.start:
                gap = s[q[1]:n.start]
                if len(gap) > 45 or any(q[1] <= m.start < n.start for m in nums) or re.search(r"[.;]\s|\band\b", gap):
                    continue
                if not re.fullmatch(rf"{_APPROX}(?:\s*(?:is|was|of|at|fitted|estimated|reported|found|to be|as|the|value|a|an|roughly)\s*)*{_APPROX}", gap):
                    continue
                d = n.start - q[1]
            elif q[0] >= n.end:
                gap = s[n.end:q[0]]
                if len(gap) > 20 or not re.fullmatch(r"\s*(?:for|as|is)(?: the)?\s*", gap):
                    continue
                d = q[0] - n.end + 5
            else:
                continue
            if best is None or d < best[0]:
                best = (d, q)
        return best[1] if best else None

    # -------------------------------------------------------------- judging constants
    def judge(self, start, end, src, value: Decimal, sym, role, hints, sources, what="", text=""):
        ix = self.ix
        own = [v for v in ix.by_source.get(src, []) if not v.foreign]

        def fits(v):
            return (sym and v.symbol == sym and (not role or not v.roles or role in v.roles)) or (role and role in v.roles)

        cands = [v for v in own if fits(v)]
        if sym and not any(v.symbol == sym for v in own) and role:
            cands = [v for v in own if role in v.roles]
        if hints:
            hinted = [v for v in cands if v.law in hints]
            if hinted:
                cands = hinted
        label = what or _label(sym, role)
        src_name = self._cite(src)

        def ok_match(v):
            return _close(value, v.printed, v.tol) if v.kind != "derived" else _close(value, v.f)

        cross = {(w.law, w.printed) for w in own if w.kind == "constant"}

        def alt_is_crossref(v):
            return v.kind == "alternative" and any(_close(Decimal(v.printed), w.printed) and law != v.law
                                                   for law, w_printed in cross for w in [_Value(src, law, "", w_printed, "", frozenset())])

        good = [v for v in cands if ok_match(v) and not alt_is_crossref(v)]
        if good:
            v = sorted(good, key=lambda v: ("constant", "check", "alternative", "derived").index(v.kind))[0]
            if what.startswith("D ∝ N") and re.search(r"compute[- ]optimal|optimal", text, re.I):
                alloc = [w for w in own if ("exp", "tokens", "compute") in w.roles and w.kind == "constant"]
                better = f"; the compute-optimal data trend is {alloc[0].law} ({alloc[0].symbol} = {alloc[0].printed})" if alloc else ""
                self.add(start, end, "misattributed", v.law, v.printed, v.location,
                         f"{_fmt(float(value))} is the exponent of {v.law} ({ix.catalog.laws[v.law].title}), not a compute-optimal trend{better}")
                return
            note = f" ({v.kind}: {v.note})" if v.kind != "constant" and v.note else (f" ({v.kind})" if v.kind != "constant" else "")
            self.add(start, end, "ok", v.law, v.printed, v.location,
                     f"{label} = {_fmt(float(value))} matches {v.law} {v.symbol} = {_fmt(v.f) if v.kind == 'derived' else v.printed}{note}")
            return
        # the number exists elsewhere in the same paper: another law, another quantity
        same_src = [v for v in ix.by_source.get(src, []) if _close(value, v.printed if v.kind != "derived" else v.f, v.tol)
                    and v.kind in ("constant", "check", "alternative", "derived")]
        same_src.sort(key=lambda v: (v.foreign != "", v.symbol != sym, v.kind != "constant"))
        if same_src:
            v = same_src[0]
            if v.foreign:
                msg = (f"{_fmt(float(value))} is {self._cite(v.foreign)}'s value as quoted by {src_name} "
                       f"({v.law} {v.symbol}), not {src_name}'s own {label}")
            elif cands and v.law != self._primary(cands).law and v.symbol == self._primary(cands).symbol:
                c0 = self._primary(cands)
                msg = (f"{_fmt(float(value))} is {v.symbol} of {v.law} ({ix.catalog.laws[v.law].title}); "
                       f"{c0.law} uses {c0.symbol} = {c0.printed} ({c0.location}): constant sets mixed")
            else:
                msg = f"{_fmt(float(value))} is {v.symbol} of {v.law} ({', '.join(_label('', r) for r in v.roles) or 'another quantity'}), not the {label}"
                if cands:
                    msg += f"; {label} is {self._primary(cands).symbol} = {self._primary(cands).printed}"
            if cands or v.foreign or sym or role:
                self.add(start, end, "misattributed", v.law, v.printed, v.location, msg)
                return
        if not cands:
            # the same quantity in another mentioned or any stored paper
            for other in [k for k in sources if k != src] + [k for k in ix.by_source if k not in sources]:
                hit = [v for v in ix.by_source.get(other, []) if not v.foreign and v.kind == "constant" and fits(v)
                       and _close(value, v.printed)]
                if hit and other in sources:
                    self.add(start, end, "ok", hit[0].law, hit[0].printed, hit[0].location,
                             f"{label} = {_fmt(float(value))} matches {hit[0].law} {hit[0].symbol}")
                    return
                if hit and _same_digits(value, hit[0].printed) and (sym in ("E", "alpha_N", "alpha_D", "N_c", "D_c") or role):
                    self.add(start, end, "misattributed", hit[0].law, hit[0].printed, hit[0].location,
                             f"{src_name} prints no {label}; {_fmt(float(value))} is {self._cite(other)}'s {hit[0].symbol} ({hit[0].law})")
                    return
            self.add(start, end, "unverifiable", src, "", "",
                     f"{src_name} prints no {label} in the knowledge base")
            return
        # another mentioned paper prints it for this quantity: the claim is about that one
        for other in sources:
            if other == src:
                continue
            hit = [v for v in ix.by_source.get(other, []) if fits(v) and _close(value, v.printed)]
            if hit:
                self.add(start, end, "ok", hit[0].law, hit[0].printed, hit[0].location,
                         f"{label} = {_fmt(float(value))} matches {hit[0].law} {hit[0].symbol}")
                return
        for other in ix.by_source:
            if other == src:
                continue
            hit = [v for v in ix.by_source[other] if not v.foreign and v.kind == "constant" and fits(v)
                   and _same_digits(value, v.printed)]
            if hit:
                self.add(start, end, "misattributed", hit[0].law, hit[0].printed, hit[0].location,
                         f"{_fmt(float(value))} is {self._cite(other)}'s {hit[0].symbol} ({hit[0].law}), not {src_name}'s; "
                         f"{src_name}: {cands[0].symbol} = {cands[0].printed}")
                return
        v = self._primary(cands)
        shown = ", ".join(dict.fromkeys(f"{w.symbol} = {w.printed if w.kind != 'derived' else _fmt(w.f)} ({w.law})" for w in cands if w.kind in ("constant", "check")))
        self.add(start, end, "wrong", v.law, v.printed if v.kind != "derived" else _fmt(v.f), v.location,
                 f"{label} = {_fmt(float(value))} contradicts {src_name}: {shown or v.symbol + ' = ' + v.printed}")

    def _primary(self, cands):
        cat = self.ix.catalog
        heads = set()
        for c in cands:
            s = cat.sources[c.source]
            heads |= {s.headline_loss, *s.headline_allocation.values()}
        return sorted(cands, key=lambda v: (("constant", "check", "derived", "alternative").index(v.kind), v.law not in heads))[0]

    def _cite(self, key) -> str:
        s = self.ix.catalog.sources.get(key)
        if s is None:
            return key
        who = s.authors[0].split()[-1] if s.authors else s.short
        return f"{who} et al. {s.year}" if len(s.authors) > 2 else f"{s.short} {s.year}"

    # -------------------------------------------------------------- derived statements
    def doubling(self, a, m, mentions, ctx):
        what = (m.group("w1") or m.group("w2") or m.group("w3") or "").lower()
        dim = ("tokens" if re.match(r"data|tokens|training tokens|d$", what) else
               "compute" if re.match(r"compute|c$", what) else "params")
        factor = m.group("num3") is not None
        raw = m.group("num") or m.group("num2") or m.group("num3")
        value = Decimal(raw) if factor else Decimal(raw).scaleb(-2)
        src = self._source_at(a + m.start(), mentions, ctx)
        if not src:
            if self.verbose:
                self.add(a + m.start(), a + m.end(), "unattributed", message="loss change per doubling with no paper named")
            return
        hints = self._hints(a, a + m.start(), src)
        own = [v for v in self.ix.by_source.get(src, []) if not v.foreign and v.kind in ("constant", "alternative")]

        def derived(v):
            x = 2 ** -v.f
            return x if factor else 1 - x

        def exps(d):
            c = [v for v in own if ("exp", "loss", d) in v.roles]
            h = [v for v in c if v.law in hints]
            return h or c

        label = f"loss {'factor' if factor else 'reduction'} per doubling of {dim}"
        cands = exps(dim)
        if not cands:
            self.add(a + m.start(), a + m.end(), "unverifiable", src, "", "", f"{self._cite(src)} prints no loss exponent for {dim}")
            return
        for v in cands:
            if _close(value, derived(v), 1e-4):
                self.add(a + m.start(), a + m.end(), "ok", v.law, f"{_fmt(derived(v))}", v.location,
                         f"{label} {_fmt(float(value))} matches {'2^-' if factor else '1 - 2^-'}{v.symbol} = {_fmt(derived(v))} ({v.symbol} = {v.printed})")
                return
        for d in ("params", "tokens", "compute"):
            if d == dim:
                continue
            for v in exps(d):
                if _close(value, derived(v), 1e-4):
                    self.add(a + m.start(), a + m.end(), "misattributed", v.law, _fmt(derived(v)), v.location,
                             f"{_fmt(float(value))} is the per-doubling change for {d} ({v.symbol} = {v.printed}), not {dim}; "
                             f"for {dim}: {_fmt(derived(cands[0]))}")
                    return
        v = self._primary(cands)
        self.add(a + m.start(), a + m.end(), "wrong", v.law, _fmt(derived(v)), v.location,
                 f"{label} = {_fmt(float(value))} contradicts {'2^-' if factor else '1 - 2^-'}{v.symbol} = {_fmt(derived(v))} ({v.symbol} = {v.printed})")

    def tokens_per_param(self, a, b, m, mentions, ctx):
        raw = m.group("num") or m.group("num2")
        nums = _numbers(raw)
        if not nums:
            return
        value = nums[0].value
        start, end = a + m.start(), a + m.end()
        src = self._source_at(start, mentions, ctx)
        if not src:
            if self.verbose:
                self.add(start, end, "unattributed", message=f"{_fmt(float(value))} tokens per parameter with no paper named")
            return
        s = self.doc.norm[a:b]
        thumbs = self.ix.rule_of_thumb.get(src, [])
        as_rule = bool(_RULE_WORDS.search(s))
        if as_rule:
            for t, note in thumbs:
                if _close(value, t):
                    self.add(start, end, "ok", src, str(t), "notes", f"{_fmt(float(value))} tokens per parameter: the rule of thumb ({note})")
                    return
        # the law's own optimum at the budgets the paper checks (or a budget named in the sentence)
        opt = self._optimal_ratio(src, s)
        if opt is None:
            if thumbs and any(_close(value, t) for t, _ in thumbs):
                self.add(start, end, "misattributed", src, str(thumbs[0][0]), "notes",
                         f"{_fmt(float(value))} tokens per parameter is a rule of thumb, not a law: {thumbs[0][1]}")
                return
            self.add(start, end, "unverifiable", src, "", "", f"{self._cite(src)} gives no tokens-per-parameter optimum in the knowledge base")
            return
        ratio, budget, law, where = opt
        if _close(value, ratio, 0.05 * ratio):
            self.add(start, end, "ok", law.id, _fmt(ratio), where,
                     f"D/N = {_fmt(float(value))} matches {law.id} at {budget:.3g} FLOPs ({_fmt(ratio)})")
            return
        thumb = next((t for t, _ in thumbs if _close(value, t)), None)
        if thumb is not None:
            self.add(start, end, "misattributed", law.id, _fmt(ratio), where,
                     f"{_fmt(float(value))} tokens per parameter is a rule of thumb (Approaches 1-2, the trained model), "
                     f"not the law: {law.id} gives D/N ≈ {ratio:.0f} at {budget:.3g} FLOPs")
            return
        self.add(start, end, "wrong", law.id, _fmt(ratio), where,
                 f"D/N = {_fmt(float(value))} contradicts {law.id}: D/N ≈ {ratio:.0f} at {budget:.3g} FLOPs")

    def _optimal_ratio(self, src, sentence):
        cat = self.ix.catalog
        head = cat.sources[src].headline_loss
        if not head:
            return None
        law = cat.laws[head]
        budgets = []
        for chk in sorted(law.checks, key=lambda c: not re.fullmatch(r"N_opt\([\d.eE+-]+\)", c.expr.strip())):
            budgets += [float(x) for x in re.findall(r"N_opt\(([\d.eE+-]+)\)", chk.expr)]
        flop = [n for n in _numbers(sentence) if re.match(r"\s*FLOPs?", sentence[n.end:n.end + 7]) and n.f > 1e15]
        if flop:
            budgets = [flop[0].f]
        if not budgets:
            return None
        from . import calc

        try:
            n, d, _ = calc.native_optimum(law, [budgets[0]])
        except Exception:
            return None
        loc = next((c.location for c in law.checks if f"N_opt({budgets[0]:g})" in c.expr.replace(" ", "")
                    or re.search(r"N_opt\(", c.expr) and abs(float(re.findall(r"N_opt\(([\d.eE+-]+)\)", c.expr)[0]) - budgets[0]) < 1e-6 * budgets[0]),
                   law.location) if not flop else "budget named in the text"
        return float(d[0] / n[0]), budgets[0], law, f"{law.location}; budget from {loc}"

    def fitted_range(self, a, m, mentions, ctx) -> bool:
        src = self._source_at(a + m.start(), mentions, ctx)
        if not src:
            return False
        lo, hi = _numbers(m.group("a")), _numbers(m.group("b"))
        if not lo or not hi:
            return False
        lo, hi = lo[0].value, hi[0].value
        dim = _unit_dim(m.group("unit"))
        ranges = self.ix.ranges.get(src, [])
        mine = [r for r in ranges if r[0] == dim]
        for r in mine:
            if _close(lo, r[1]) and _close(hi, r[2]):
                self.add(a + m.start(), a + m.end(), "ok", r[3], f"{_fmt(r[1])} to {_fmt(r[2])}", r[4],
                         f"range {_fmt(float(lo))} to {_fmt(float(hi))} {dim} matches {r[3]}")
                return True
        for r in ranges:
            if r[0] != dim and _close(lo, r[1]) and _close(hi, r[2]):
                self.add(a + m.start(), a + m.end(), "misattributed", r[3], f"{_fmt(r[1])} to {_fmt(r[2])} {r[0]}", r[4],
                         f"{_fmt(float(lo))} to {_fmt(float(hi))} is {self._cite(src)}'s range of {r[0]}, not {dim}")
                return True
        if not mine:
            return False
        r = next((r for r in mine if r[3] == self.ix.catalog.sources[src].headline_loss), mine[0])
        self.add(a + m.start(), a + m.end(), "wrong", r[3], f"{_fmt(r[1])} to {_fmt(r[2])} {dim}", r[4],
                 f"fitted range {_fmt(float(lo))} to {_fmt(float(hi))} {dim} contradicts {self._cite(src)}: {_fmt(r[1])} to {_fmt(r[2])}")
        return True

    def compute_rule(self, a, s, mentions, ctx, consume):
        law, k = self.ix.flops, self.ix.flops_factor
        if law is None:
            return
        ks = re.escape(f"{k:g}")
        per_token = re.compile(r"per (?:training )?token|per token|each token|/token", re.I)
        for m in re.finditer(rf"(?<![\w.])(?P<k>{ks})\s*[·×*]?\s*N(?P<d>\s*[·×*]?\s*D)?(?![\w])", s):
            tail = s[m.end():m.end() + 40]
            head = s[max(0, m.start() - 60):m.start()]
            per = bool(per_token.search(tail)) or bool(per_token.search(head))
            total = re.search(r"(?:C|compute|FLOPs?|cost)\s*(?:=|≈|~|is|of)\s*$", head) or re.search(r"total|training compute", head, re.I)
            consume(m.start(), m.end())
            src = self._source_at(a + m.start(), mentions, ctx) or law.source
            if m.group("d"):
                if per:
                    self.add(a + m.start(), a + m.end(), "wrong", law.id, law.formula, law.location,
                             f"{k:g}ND is the total training compute; per training token it is {k:g}N")
                else:
                    self.add(a + m.start(), a + m.end(), "ok", law.id, law.formula, law.location,
                             f"C ≈ {k:g}ND total training compute ({self._cite(src)})")
            else:
                if per:
                    self.add(a + m.start(), a + m.end(), "ok", law.id, law.formula, law.location,
                             f"{k:g}N FLOPs per training token")
                elif total:
                    self.add(a + m.start(), a + m.end(), "wrong", law.id, law.formula, law.location,
                             f"{k:g}N is FLOPs per training token; total training compute is C ≈ {k:g}ND")

    def embedding(self, a, s, mentions):
        for m in _EMBED.finditer(s):
            before = [(p, k) for p, k in mentions if p <= a + m.start() and a + m.start() - p < 90]
            if not before:
                continue
            p, src = before[-1]
            between = self.doc.norm[p:a + m.start()]
            if _CONTRAST.search(between) or not _COUNT_VERB.search(between + m.group(0)):
                continue
            laws = self.ix.catalog.laws_of(src)
            counts = next((law.condition.get("N_counts") for law in laws if law.condition.get("N_counts")), None)
            if not counts:
                continue
            paper_neg = counts.lower().startswith("non-embedding")
            paper_tot = counts.lower().startswith("total")
            if not (paper_neg or paper_tot):
                continue
            claim_neg = m.group("neg") is not None
            law = next((law for law in laws if law.condition.get("N_counts")), None)
            if claim_neg == paper_neg:
                self.add(a + m.start(), a + m.end(), "ok", src, counts, "source conditions", f"{self._cite(src)} counts {counts}")
            else:
                self.add(a + m.start(), a + m.end(), "wrong", law.id if law else src, counts, "source conditions (N_counts)",
                         f"{self._cite(src)} counts N as {counts}, not {'non-embedding' if claim_neg else 'total'}")

    # -------------------------------------------------------------- formulas
    def formula(self, a, m, mentions, ctx) -> bool:
        rhs = m.group("rhs").strip().rstrip(".")
        src = self._source_at(a + m.start(), mentions, ctx)
        if not src:
            return False
        toks = re.findall(rf"{_NUMX}|[A-Za-zα-ω∞_]+(?:_\w+)?|\*\*|[-+*/^()×·]|\S", rhs)
        idents = [t for t in toks if re.match(r"[A-Za-zα-ω∞]", t) and not re.match(r"\d", t)]
        idents = [t for t in idents if not re.fullmatch(r"(?:[eE])", t)]
        variables = {t for t in idents if t in ("N", "D", "C", "C_min")}
        has_num = bool(_numbers(rhs))
        if not variables:
            return False
        lhs = m.group("lhs")
        is_loss = lhs.lower() in ("l", "loss")
        laws = [law for law in self.ix.catalog.laws_of(src) if law.formula and not law.missing_constants
                and ((law.kind == "loss") if is_loss else law.predicts.symbol[:1] == lhs[:1])
                and {v.symbol for v in law.variables} == {("C_min" if x == "C" and any(w.symbol == "C_min" for w in law.variables) else x) for x in variables}]
        hints = self._hints(a, a + m.end(), src)
        if hints:
            laws = [law for law in laws if law.id in hints] or laws
        start, end = a + m.start(), a + m.end()
        others = set(idents) - variables - {"log", "exp"}
        if not has_num or others:
            # a symbolic form: check only for an added constant the paper does not have
            adds = re.search(r"(?:^|\+)\s*(?:E|L_?∞|L_?inf|L_?0|c|const)\s*(?:\+|$)", rhs)
            if adds and laws and not any(("irreducible",) in r for law in laws for r in self._law_roles(law)):
                law = laws[0]
                self.add(start, end, "wrong", law.id, law.formula, law.location,
                         f"{law.id} has no added constant: {law.formula}")
                return True
            return False
        expr = self._python(toks, variables)
        if expr is None:
            return False
        return self._check_formula(start, end, src, expr, laws, variables, rhs)

    def _law_roles(self, law):
        return [v.roles for v in self.ix.by_source.get(law.source, []) if v.law == law.id]

    @staticmethod
    def _python(toks, variables):
        out, prev = [], None
        for t in toks:
            kind = "num" if re.match(r"[\d.]", t) and _numbers(t) else "id" if t in variables or t in ("log", "exp") else t
            if kind == "num":
                n = _numbers(t)[0]
                t = repr(float(n.value))
            elif t in ("^",):
                t = "**"
            elif t in ("×", "·"):
                t = "*"
            elif kind not in ("id",) and t not in ("+", "-", "*", "/", "**", "(", ")"):
                return None
            if prev in ("num", "id", ")") and (kind in ("num", "id") or t == "("):
                if not (prev == "id" and t == "(" and out[-1] in ("log", "exp")):
                    out.append("*")
            out.append(t)
            prev = "num" if kind == "num" else "id" if kind == "id" else t
        return " ".join(out)

    def _check_formula(self, start, end, src, expr, laws, variables, rhs) -> bool:
        import numpy as np

        from . import calc
        from . import formula as formula_lang

        try:
            claim = formula_lang.parse(expr, variables)
        except Exception:
            return False
        toks = re.findall(rf"{_NUMX}|[A-Za-zα-ω∞_]+(?:_\w+)?|\*\*|[-+*/^()×·]|\S", rhs)
        literals = [_numbers(t)[0].value for t in toks if re.match(r"[\d.]", t) and _numbers(t)]

        def points(law):
            pts = []
            for v in law.variables:
                lo, hi = v.fitted or {"params": (1e8, 1e10), "tokens": (1e10, 1e12), "compute": (1e-3, 1e3)}.get(_dimension(v.unit), (1, 10))
                pts.append((v.symbol, np.geomspace(max(lo, 1e-30), hi, 4)))
            grids = np.meshgrid(*[p[1] for p in pts])
            return {sym: g.ravel() for (sym, _), g in zip(pts, grids)}

        def claim_env(env):
            return {("C" if k == "C_min" else k): val for k, val in env.items()}

        def tolerance(env):
            base = np.asarray(claim(claim_env(env)), dtype=float)
            tol = np.zeros_like(base)
            for i, lit in enumerate(literals):
                bumped = self._bump(rhs, i, lit, variables)
                if bumped is None:
                    continue
                try:
                    f = formula_lang.parse(bumped, variables)
                    tol += np.abs(np.asarray(f(claim_env(env)), dtype=float) - base)
                except Exception:
                    continue
            return base, tol + 1e-3 * np.abs(base)

        def matches(law):
            try:
                env = points(law)
                ref = np.asarray(calc.native_eval(law, env)[0], dtype=float)
                got, tol = tolerance(env)
            except Exception:
                return False, None
            return bool(np.all(np.abs(got - ref) <= tol)), (got, ref)

        for law in laws:
            ok, _ = matches(law)
            if ok:
                self.add(start, end, "ok", law.id, law.formula, law.location,
                         f"formula agrees with {law.id} at the fitted points ({self._consts(law)})")
                return True
        for law in self.ix.catalog.laws.values():
            if law.source == src or law.kind != "loss" or not law.formula or law.missing_constants:
                continue
            if {v.symbol for v in law.variables} != {("C_min" if x == "C" and any(w.symbol == "C_min" for w in law.variables) else x) for x in variables}:
                continue
            ok, _ = matches(law)
            if ok:
                self.add(start, end, "misattributed", law.id, law.formula, law.location,
                         f"the formula is {law.id} ({self._cite(law.source)}), not {self._cite(src)}'s")
                return True
        if not laws:
            self.add(start, end, "unverifiable", src, "", "", f"{self._cite(src)} has no loss law of {', '.join(sorted(variables))} in the knowledge base")
            return True
        law = laws[0]
        try:
            big = {v.symbol: np.array([1e30]) for v in law.variables}
            law_inf = float(np.asarray(calc.native_eval(law, big)[0]).ravel()[0])
            claim_inf = float(np.asarray(claim(claim_env(big))).ravel()[0])
        except Exception:
            law_inf = claim_inf = math.nan
        added = False
        try:
            env = points(law)
            diff = np.asarray(claim(claim_env(env)), dtype=float) - np.asarray(calc.native_eval(law, env)[0], dtype=float)
            _, tol = tolerance(env)
            added = (not any(("irreducible",) in r for r in self._law_roles(law)) and float(np.ptp(diff)) <= 2 * float(tol.max())
                     and abs(float(diff.mean())) > 2 * float(tol.max()))
            if added:
                claim_inf = float(diff.mean())
        except Exception:
            pass
        if added or (abs(law_inf) < 1e-3 and claim_inf > 0.05):
            self.add(start, end, "wrong", law.id, law.formula, law.location,
                     f"the form adds a constant ({_fmt(claim_inf)}) that {law.id} does not have: {law.formula}")
            return True
        self.add(start, end, "wrong", law.id, f"{law.formula} with {self._consts(law)}", law.location,
                 f"formula disagrees with {law.id}: {law.formula} with {self._consts(law)}")
        return True

    @staticmethod
    def _consts(law):
        return ", ".join(f"{c.symbol} = {c.printed}" for c in law.constants if c.printed is not None)

    @staticmethod
    def _bump(rhs, i, lit, variables):
        toks = re.findall(rf"{_NUMX}|[A-Za-zα-ω∞_]+(?:_\w+)?|\*\*|[-+*/^()×·]|\S", rhs)
        k = -1
        for j, t in enumerate(toks):
            if re.match(r"[\d.]", t) and _numbers(t):
                k += 1
                if k == i:
                    toks[j] = repr(float(lit + Decimal(_ulp(lit))))
        return _Linter._python(toks, variables)

    # -------------------------------------------------------------- citations
    def arxiv(self, a, m, mentions, ctx):
        given = m.group("id")
        src = self._source_at(a + m.start(), [(p, k) for p, k in mentions if abs(p - a - m.start()) < 200], [])
        owner = next((k for k, b in self.ix.bib.items() if b["eprint"] == given), None)
        if src is None or src not in self.ix.bib:
            return
        right = self.ix.bib[src]["eprint"]
        if not right:
            return
        if given == right:
            self.add(a + m.start(), a + m.end(), "ok", src, right, "references.bib", f"arXiv:{given} is {self._cite(src)}")
        elif owner:
            self.add(a + m.start(), a + m.end(), "misattributed", src, right, "references.bib",
                     f"arXiv:{given} is {self._cite(owner)}; {self._cite(src)} is arXiv:{right}")
        else:
            self.add(a + m.start(), a + m.end(), "wrong", src, right, "references.bib",
                     f"arXiv:{given} is not {self._cite(src)}: arXiv:{right}")

    def citations(self, a, s, nums, mentions, used):
        """'Kaplan et al. (2020)', '(Hoffmann et al., 2022)', 'Chinchilla (Kaplan et al., 2022)'."""
        cat = self.ix.catalog
        surnames = {}
        for key, src in cat.sources.items():
            if src.authors:
                sn = src.authors[0].split()[-1]
                surnames[sn[:-3] if sn.endswith("-AI") else sn] = key
        for m in re.finditer(r"(?P<who>[A-Z][\w-]+)(?:\s+(?:et al\.?|and [A-Z][\w-]+|&\s*[A-Z][\w-]+))?,?\s*\(?(?P<year>(?:19|20)\d\d)[a-z]?\)?", s):
            who, year = m.group("who"), m.group("year")
            if who not in surnames:
                continue
            ystart = m.start("year")
            used.add(ystart)
            key = surnames[who]
            years = {str(cat.sources[key].year), self.ix.bib.get(key, {}).get("year", "")}
            # a model or short name right before the parenthetical, naming another paper
            pre = [(p, k) for p, k in mentions if a + m.start() - 25 <= p < a + m.start() and k != key]
            if pre and re.search(r"\(\s*$", s[max(0, pre[-1][0] - a):m.start()] + "(" if s[m.start() - 1:m.start()] == "(" else ""):
                other = pre[-1][1]
                self.add(pre[-1][0], a + m.end(), "misattributed", other, self._cite(other), "references.bib",
                         f"{s[pre[-1][0] - a:m.start()].strip(' (')} is {self._cite(other)}, not {who} et al.")
                continue
            if year in years:
                self.add(a + m.start(), a + m.end(), "ok", key, year, "references.bib", f"{who} et al. {year}")
            else:
                # is there another stored paper by that first author in that year?
                self.add(a + m.start(), a + m.end(), "wrong", key, " or ".join(sorted(y for y in years if y)), "references.bib",
                         f"{who} et al. is {' / '.join(sorted(y for y in years if y))}, not {year}")
        for (p1, k1), (p2, k2) in zip(mentions, mentions[1:]):
            gap = self.doc.norm[p1:p2]
            name = self.ix.name_re.match(gap)
            if k1 == k2 or not name:
                continue
            between = gap[name.end():]
            if re.fullmatch(r"\s*(?:\\cite[tp]?\s*|\[@|\(\s*(?:see\s+)?)", between):
                self.add(p1, p2 + 20, "misattributed", k1, self._cite(k1), "references.bib",
                         f"{name.group(0)} is {self._cite(k1)}, not {self._cite(k2)}")

    def titles(self, a, b, mentions, ctx):
        raw = self.doc.raw
        ra, rb = self.doc.idx[a], self.doc.idx[min(b, len(self.doc.idx) - 1)]
        seg = raw[ra:rb]
        rx = (r'"([^"]{15,160})"|“([^”]{15,160})”|``([^\']{15,160})\'\'|\\(?:emph|textit)\{([^}]{15,160})\}'
              r'|\*([A-Z][^*]{15,160})\*|(?<!\w)_([A-Z][^_]{15,160})_(?!\w)')
        for m in re.finditer(rx, seg):
            title = next(g for g in m.groups() if g)
            best, owner = 0.0, None
            for key, bib in self.ix.bib.items():
                for t in bib["titles"]:
                    r = difflib.SequenceMatcher(None, title.lower().strip(" .,"), t.lower()).ratio()
                    if r > best:
                        best, owner = r, key
            if best < 0.9 or owner is None:
                continue
            t0, t1 = ra + m.start(), ra + m.end()
            near = [(self.doc.idx[p], k) for p, k in mentions if not (t0 <= self.doc.idx[p] < t1)]
            near = [(p, k) for p, k in near if min(abs(p - t0), abs(p - t1)) < 120]
            if not near:
                continue
            src = min(near, key=lambda t: min(abs(t[0] - t0), abs(t[0] - t1)))[1]
            n0 = next(j for j in range(a, b + 1) if self.doc.idx[j] >= t0)
            n1 = next((j for j in range(n0, b + 1) if self.doc.idx[j] >= t1), b)
            if src == owner:
                self.add(n0, n1, "ok", owner, self.ix.bib[owner]["titles"][0], "references.bib", f"title of {self._cite(owner)}")
            else:
                self.add(n0, n1, "misattributed", src, self.ix.bib[src]["titles"][0] if src in self.ix.bib else "",
                         "references.bib", f"\"{title}\" is the title of {self._cite(owner)}, not {self._cite(src)}")


_ROLE_WORDS = {("exp", "loss", "params"): "parameter exponent", ("exp", "loss", "tokens"): "data exponent",
               ("exp", "loss", "compute"): "compute exponent", ("exp", "params", "compute"): "N_opt ∝ C^x exponent",
               ("exp", "tokens", "compute"): "D_opt ∝ C^x exponent", ("exp", "tokens", "params"): "D ∝ N^x exponent", ("exp", "loss", "steps"): "steps exponent",
               ("irreducible",): "irreducible loss", ("scale", "params"): "parameter scale", ("scale", "tokens"): "data scale",
               ("scale", "compute"): "compute scale", ("coef", "params"): "parameter-term coefficient",
               ("coef", "tokens"): "data-term coefficient"}


def _label(sym, role) -> str:
    words = _ROLE_WORDS.get(tuple(role) if role else (), "/".join(role) if role else "")
    if sym and words:
        return f"{sym} ({words})"
    return sym or words or "value"


def _canon_symbol(sym: str) -> str:
    s = sym.replace("α", "alpha").replace("β", "beta").replace("γ", "gamma").replace("η", "eta")
    s = s.replace("(", "").replace(")", "")
    s = re.sub(r"[_^]?min$", "_min", s)
    s = re.sub(r"\s?\^?\*$", "_star", s)
    s = s.replace("__", "_")
    s = re.sub(r"^(alpha|beta|gamma|eta)([A-Z])", r"\1_\2", s)
    if re.fullmatch(r"B_?_star", s):
        return "B_star"
    if re.fullmatch(r"L_?(?:∞|inf)", s):
        return "L_inf"
    s = re.sub(r"_min_min$", "_min", s)
    return s


# ============================================================================ public API


def lint_text(text: str, name: str = "-", verbose: bool = False) -> "list[Finding]":
    """All findings in one text; numbers that cannot be attributed only with verbose=True."""
    linter = _Linter(_Doc(text, name), verbose)
    linter.run()
    seen, out = set(), []
    for f in sorted(linter.out, key=lambda f: (f.line, f.col)):
        k = (f.line, f.col, f.verdict, f.claim)
        if k not in seen:
            seen.add(k)
            out.append(f)
    return out


def _read(path: str) -> "tuple[str, str]":
    from .bounded import read_text  # bounded, and strict UTF-8 whatever the locale (stdin too)

    return read_text(path, what="draft"), str(path)


def lint_paths(paths, verbose: bool = False) -> dict:
    """{"findings": [...], "summary": {verdict: count}} for files ('-' is stdin)."""
    texts = [_read(str(p)) for p in paths]  # read everything first: a bad path fails before any output
    findings = []
    for text, name in texts:
        for f in lint_text(text, name, verbose=verbose):
            if f.verdict == "unattributed" and not verbose:
                continue
            findings.append(f.as_dict())
    summary = {v: 0 for v in VERDICTS if v != "unattributed" or verbose}
    for f in findings:
        summary[f["verdict"]] = summary.get(f["verdict"], 0) + 1
    return {"findings": findings, "summary": summary}
