"""Claim vocabulary: how people write quantity names, relations and paper names (no paper numbers)."""

import re


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
_LAW_WORDS = re.compile(r"optimal|optimum|law|predicts?|implies|fit|eq(?:uation)?|Approach|prescri|recommend", re.I)


# ============================================================================ the linter



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
