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
        out.append(text)
        idx.extend([at] * len(text))

    while i < n:
        # plain text up to the next character that needs translating is copied in one step (speed)
        j = _PLAIN.match(s, i).end()
        if j > i:
            out.append(s[i:j])
            idx.extend(range(i, j))
            i = j
            if i >= n:
                break
        ch = s[i]
        if ch == "\\":
            m = re.compile(r"\\([A-Za-z]+|.)").match(s, i)
            cmd = m.group(1) if m else ""
            end = m.end() if m else i + 1
            if cmd == "sqrt":
                emit("sqrt", i)  # \sqrt{x} -> sqrt(x): the braces become its parentheses
                pending = "sqrt"
            elif cmd == "frac" or cmd == "dfrac" or cmd == "tfrac":
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
            if pending == "sqrt":
                stack.append("paren")
                emit("(", i)
                pending = None
            elif pending == "frac1" or pending == "frac2":
                stack.append(pending)
                pending = None
            elif out and out[-1].endswith("^"):
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


# characters _normalize copies unchanged (everything but LaTeX syntax and the _UNICODE keys)
_PLAIN = re.compile("[^\\\\{}$~" + re.escape("".join(_UNICODE)) + "]*")


def _blank(text: str, pattern: str, flags=0) -> str:
    """Replace matches with spaces, keeping newlines (offsets stay valid)."""
    return re.sub(pattern, lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=flags)


# ============================================================================ numbers


class _Doc:
    def __init__(self, text: str, name: str):
        self.name, self.raw = name, text
        # fenced code is hidden from the prose claim finders (numbers there are settings, not claims);
        # the formula and arithmetic checks read it through `code` (normalised, same offsets)
        fences = list(_FENCE.finditer(text))
        masked = _blank(text, _FENCE.pattern, re.M | re.S) if fences else text
        masked = _blank(masked, r"(?<!\\)%[^\n]*") if re.search(r"\\(?:begin|section|documentclass|cite)", text) else masked
        masked = _blank(masked, r"<!--.*?-->", re.S)
        self.norm, self.idx = _normalize(masked)
        self.code = ""
        if fences:
            pieces, at = [], 0
            for m in fences:  # the code alone, everything else blanked (offsets stay valid)
                pieces += [_NOT_NL.sub(" ", text[at:m.start()]), m.group(0)]
                at = m.end()
            only = "".join(pieces + [_NOT_NL.sub(" ", text[at:])])
            self.code, self.code_idx = _normalize(only)
            self.code_idx.append(len(text))
        self.idx.append(len(text))
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def pos(self, norm_i: int) -> "tuple[int, int]":
        import bisect

        orig = self.idx[min(max(norm_i, 0), len(self.idx) - 1)]
        line = bisect.bisect_right(self.line_starts, orig)
        return line, orig - self.line_starts[line - 1] + 1

    def list_parent(self, pos: int) -> str:
        """For a list item, the line that introduces the list when it ends with ':' ('' otherwise)."""
        text = self.norm
        start = text.rfind("\n", 0, pos) + 1
        if not _LIST_ITEM.match(text, start):
            return ""
        while start > 0:
            prev = text.rfind("\n", 0, start - 1) + 1
            line = text[prev:start - 1]
            if line.strip() and not _LIST_ITEM.match(line):
                return line if line.rstrip().rstrip("*_").endswith(":") else ""
            start = prev
        return ""

    def table_header(self, pos: int) -> str:
        """The first row of the Markdown table whose row holds `pos` ('' outside tables)."""
        text = self.norm
        start = text.rfind("\n", 0, pos) + 1
        if not text.startswith("|", start):
            return ""
        header = start
        while header > 0:
            prev = text.rfind("\n", 0, header - 1) + 1
            if not text.startswith("|", prev):
                break
            header = prev
        end = text.find("\n", header)
        return "" if header == start else text[header:end if end >= 0 else len(text)]

    def snippet(self, a: int, b: int) -> str:
        oa, ob = self.idx[a], self.idx[min(b, len(self.idx) - 1)]
        if b >= len(self.idx) - 1:
            ob = len(self.raw)
        return " ".join(self.raw[oa:ob].split())[:200]


_ABBREV = re.compile(r"(?:et al|e\.g|i\.e|eq|Eq|eqs|Fig|Sec|Sect|Tab|App|approx|cf|vs|resp|No|Ref|ca|Dr|Mr|Ms)\.$")


_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_NOT_NL = re.compile(r"[^\n]")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d+\.)\s")
_HEADING = re.compile(r"\s*(?:#|\\(?:sub)*section)")
_BREAK = re.compile(r"[ \t]*(?:#|\\(?:sub)*section)")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z\\(\[$*_\"'`])|\n\s*[-*+]\s|\n\s*\d+\.\s|\n\s*\\item\b|\n(?=[ \t]*\|)")
_MAX_SENTENCE = 1000  # longer "sentences" (text without full stops) are cut at line ends: linear work


def _paragraphs(text: str):
    """(start, end) of each run of non-blank lines; a heading line starts a new run (and keeps the
    lines under it, so a heading's scope covers its first paragraph). One pass over the lines."""
    start = prev_end = None
    pos, n = 0, len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl
        blank = not text[pos:end].strip(" \t")
        if start is not None and (blank or _BREAK.match(text, pos)):
            yield start, prev_end
            start = None
        if not blank and start is None:
            start = pos
        prev_end = end
        if nl < 0:
            break
        pos = nl + 1
    if start is not None:
        yield start, prev_end


def _sentences(text: str, start: int, end: int):
    """(a, b) spans of sentences inside text[start:end]; none longer than _MAX_SENTENCE unless a
    single line is (then cut at a space), so the claim finders never see an unbounded span."""
    for a, b in _raw_sentences(text, start, end):
        if b - a <= _MAX_SENTENCE:
            yield a, b
            continue
        while a < b:
            cut = text.find("\n", a, b)
            cut = b if cut < 0 else cut + 1
            if cut - a > _MAX_SENTENCE:
                space = text.rfind(" ", a + 1, a + _MAX_SENTENCE)
                cut = space + 1 if space > a else a + _MAX_SENTENCE
            yield a, cut
            a = cut


def _raw_sentences(text: str, start: int, end: int):
    a = start
    for m in _SENTENCE_END.finditer(text, start, end):
        j = m.start()
        if text[j] == "." and (_ABBREV.search(text, max(a, j - 6), j + 1) or text[j - 1:j].isdigit() and text[j + 1:j + 2].isdigit()):
            continue
        yield a, j + 1
        a = j + 1
    if a < end:
        yield a, end
