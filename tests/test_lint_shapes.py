"""Claim shapes real texts use, each built for the shape (invented sentences, not corpus lines):
derived changes at k x a resource, growth at k x compute, arithmetic chains, closed-form
allocation formulas (prose and code), pairs called compute-optimal, relative-budget tables."""

import pytest

from kb.lint import lint_text

FLAGS = {"wrong", "misattributed"}


def flagged(text):
    return {(f.line, f.verdict) for f in lint_text(text, "t.md") if f.verdict in FLAGS}


@pytest.mark.parametrize("text, bad", [
    ("According to Kaplan et al., 10x more parameters lowers the loss by 16%.", False),
    ("According to Kaplan et al., 10x more parameters lowers the loss by 4%.", True),
    ("Kaplan et al. find that doubling the dataset lowers the loss by about 6%.", False),
    ("Kaplan et al. find that doubling the dataset lowers the loss by about 12%.", True),
    ("At 8x the compute, Kaplan's allocation grows the model about 4.6x.", False),
    ("At 8x the compute, Kaplan's allocation grows the model about 7x.", True),
    ("In the Chinchilla analysis, 100x compute means about 10x more parameters and 10x more tokens.", False),
    ("In the Chinchilla analysis, 100x compute means about 30x more parameters and 3x more tokens.", True),
])
def test_derived_changes_and_growth(text, bad):
    assert bool(flagged(text)) == bad, lint_text(text)


def test_factor_in_a_table_header_and_exponent_in_the_row():
    text = ("# Notes on Kaplan et al.\n\n| Law | Form | Change at 10x resource |\n|---|---|---|\n"
            "| L(D) | (D_c/D)^0.095 | 20% lower loss |\n| L(N) | (N_c/N)^0.076 | 5% lower loss |\n")
    assert flagged(text) == {(6, "wrong")}


def test_list_items_take_the_factor_from_the_line_that_introduces_them():
    text = ("Kaplan et al. allocate compute as follows. With 100x compute:\n\n"
            "- a model about 29x larger\n- about 50x more data\n")
    assert flagged(text) == {(4, "wrong")}


@pytest.mark.parametrize("text, bad", [
    ("The run costs 6 × 20B × 400B = 4.8e22 FLOPs.", False),
    ("The run costs 6 × 20B × 400B = 9.6e22 FLOPs.", True),
    ("So $N = \\sqrt{10^{22}/120} \\approx 9.1 \\times 10^9$ parameters.", False),
    ("So $N = \\sqrt{10^{22}/120} \\approx 2.9 \\times 10^9$ parameters.", True),
    ("A ratio of 300/20 = 15 tokens per step.", False),
])
def test_arithmetic_chains(text, bad):
    assert bool(flagged(text)) == bad, lint_text(text)


def test_allocation_formulas_in_code_blocks_are_checked():
    wrong = "Chinchilla's rule in code:\n\n```python\nN_opt = (C / 6) ** 0.5\nD_opt = (C / 6) ** 0.5\n```\n"
    right = "Chinchilla's rule in code:\n\n```python\nN_opt = (C / 120) ** 0.5\nD_opt = 20 * (C / 120) ** 0.5\n```\n"
    assert {v for _, v in flagged(wrong)} == {"wrong"}
    assert flagged(right) == set()


@pytest.mark.parametrize("text, bad", [
    ("Chinchilla-optimal training would put a 30B model on 600B tokens.", False),
    ("Chinchilla-optimal training would put a 30B model on 150B tokens.", True),
    ("By Chinchilla's rule, a 30B model trained on 3T tokens is 5x more than compute-optimal.", False),
])
def test_pairs_called_compute_optimal(text, bad):
    assert bool(flagged(text)) == bad, lint_text(text)


def test_relative_budget_table_rows():
    text = ("# Kaplan et al. allocation, rough sketch\n\n| Budget | Model | Data |\n|---|---|---|\n"
            "| 1x | 2B params | 40B tokens |\n| 10x | 10.7B params | 74B tokens |\n| 100x | 60B params | 400B tokens |\n")
    assert flagged(text) == {(7, "wrong")}


def test_twenty_tokens_per_parameter_is_chinchillas_rule():
    assert flagged("Hoffmann et al. recommend about 20 tokens per parameter.") == set()
    assert flagged("Hoffmann et al. recommend about 60 tokens per parameter.") != set()
