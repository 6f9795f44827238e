"""The document: LaTeX/Markdown/Unicode normalised to one notation with a map back to source
positions, fenced code and comments masked, paragraphs and sentences found in one linear pass."""

import re


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
