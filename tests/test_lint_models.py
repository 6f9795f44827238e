"""Model-fact claims: a named model's parameter or token count, judged against the models table."""

import pytest

from kb.lint.modelfacts import model_quotes
from kb.models import get_model


def _fact(name, q):
    m = get_model(name)
    return next(f for f in m.figures if f.quantity == q and f.verified)


def _lint(text):
    from kb.lint import lint_text
    return lint_text(text, "draft.md")


def _fmt_tokens(v):
    return f"{v / 1e12:g}T tokens"


@pytest.mark.parametrize("name", ["chinchilla", "gpt3"])
def test_quoted_stored_count_is_ok_and_tenfold_is_wrong(name):
    m = get_model(name)
    f = _fact(name, "params")
    good = f"{m.display.split(' (')[0]} has {float(f.value) / 1e9:g}B parameters."
    bad = f"{m.display.split(' (')[0]} has {10 * float(f.value) / 1e9:g}B parameters."
    assert [q for q, *_ in model_quotes(good)] == [m]
    vg = [x.verdict for x in _lint(good) if x.verdict in ("ok", "wrong")]
    vb = [x for x in _lint(bad) if x.verdict == "wrong"]
    assert "ok" in vg and "wrong" not in vg
    assert vb and vb[0].paper_value == f.printed and m.source in vb[0].location


def test_tokens_of_chinchilla():
    f = _fact("chinchilla", "tokens")
    wrong = [x for x in _lint("Chinchilla was trained on 3T tokens.") if x.verdict == "wrong"]
    assert wrong and wrong[0].paper_value == f.printed
    assert not [x for x in _lint(f"Chinchilla was trained on {_fmt_tokens(float(f.value))}.") if x.verdict == "wrong"]


def test_hedge_widens_tolerance():
    f = float(_fact("chinchilla", "tokens").value)
    near = f * 1.07
    (_, _, v, tol, *_), = model_quotes(f"Chinchilla was trained on ~{near / 1e12:.1f}T tokens")
    assert tol >= 0.10
    (_, _, v2, tol2, *_), = model_quotes(f"Chinchilla was trained on {near / 1e12:.1f}T tokens")
    assert tol2 < 0.10


def test_comparison_clause_not_read_as_a_fact():
    assert model_quotes("Chinchilla is smaller than GPT-3 with 175B parameters") == [] or all(
        q.name != "chinchilla" for q, *_ in model_quotes("Chinchilla is smaller than GPT-3 with 175B parameters"))
