"""Model facts: a named model's token or parameter count quoted in a draft ("Llama 3 8B was trained
on 15T tokens", "GPT-3 has 175B parameters"), judged against the models table (kb/models.py,
laws/models.toml and the law files' [[model]] tables) with the fact's source and location.

Only verified figures are used as checks. The tolerance follows the stated precision: half a unit
in the last printed digit of the draft's number, widened to 10% when the number is hedged
("~", "about", "roughly")."""

import re
from functools import lru_cache

_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_QTY = re.compile(r"(?P<hedge>~|≈|about |around |roughly |approximately |nearly )?(?P<v>\d+(?:\.\d+)?)\s*(?P<s>[KMBT])\b\s*"
                  r"(?P<u>tokens?|param(?:eter)?s?)", re.I)


def _digits_tolerance(v: str) -> float:
    """Relative half-unit in the last printed digit of v."""
    dec = len(v.split(".")[1]) if "." in v else 0
    return 0.5 * 10 ** -dec / float(v)


@lru_cache(maxsize=1)
def _model_names():
    """(compiled regex of model names, {lowercased name: Model})."""
    from ..models import load_models

    names = {}
    for m in load_models():
        for n in (m.name, *m.aliases, re.sub(r"\s*\(.*\)$", "", m.display), m.display):
            n = n.strip()
            if len(n) >= 4 and any(c.isalpha() for c in n):
                names.setdefault(_key(n), m)
    alts = sorted(names, key=len, reverse=True)
    pat = "|".join(r"[\s-]?".join(re.escape(p) for p in re.split(r"[\s-]+", a)) for a in alts)
    return re.compile(rf"(?<![\w.-])(?:{pat})(?![\w-])", re.I), names


def _key(n: str) -> str:
    return re.sub(r"[\s-]+", " ", n.strip().lower())


def model_quotes(text: str):
    """[(model, quantity, value, tolerance, start, end)] for each count quoted right after a model name
    in the same clause (no other model name between them)."""
    rx, names = _model_names()
    hits = list(rx.finditer(text))
    out = []
    for i, h in enumerate(hits):
        end = hits[i + 1].start() if i + 1 < len(hits) else len(text)
        seg_end = min(end, h.end() + 80)
        m = _QTY.search(text, h.end(), seg_end)
        between = text[h.end():m.start()] if m else ""
        # the paper's rule ("Chinchilla's rule"), another number or a comparison in between: no fact
        if not m or re.search(r"[;.]\s|\d|\bthan\b|\bvs\.?\b|\bwhile\b|\b(?:rule|law|optimal|scaling|approach)", between, re.I):
            continue
        model = names.get(_key(h.group(0)))
        if model is None:
            continue
        q = "tokens" if m.group("u").lower().startswith("token") else "params"
        tol = max(_digits_tolerance(m.group("v")), 0.10 if m.group("hedge") else 0.0)
        out.append((model, q, float(m.group("v")) * _SCALE[m.group("s").upper()], tol, h.start(), m.end()))
    return out


def _fact(model, quantity):
    for f in model.figures:
        if f.quantity == quantity and f.verified:
            return f
    return None


class ModelFactClaims:
    def model_facts(self, a, s, consume=None):
        for model, q, v, tol, x0, x1 in model_quotes(s):
            f = _fact(model, q)
            if f is None:
                continue
            stored = float(f.value)
            where = f"{model.source}: {f.location}"
            if abs(v - stored) <= tol * stored * (1 + 1e-9):
                self.add(a + x0, a + x1, "ok", "", f.printed, where, f"{model.display} {q} = {f.printed}")
            else:
                self.add(a + x0, a + x1, "wrong", "", f.printed, where,
                         f"{model.display} {q}: the draft says {v:.4g}, {model.source} prints {f.printed}")
            if consume:
                consume(x0, x1)
