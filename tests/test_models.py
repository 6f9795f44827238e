"""Models as data: the [[model]] tables, `kb model(s)`, `kb eval --model`, `kb compare --models`."""

import copy
import math
import re

import pytest

from kb import cite, models
from kb.catalog import published, schema_document
from kb.errors import BadFile, UnknownId
from kb.schema import load_document

from conftest import ROOT

MODELS = models.load_models()
# the list; Mistral 7B is absent because its paper prints no training-token count
REQUIRED = ("gpt3", "gopher", "chinchilla", "palm-540b", "llama-65b", "llama2-70b", "llama3-8b", "llama3-70b",
            "llama3-405b", "deepseek-llm-67b", "minicpm-2.4b", "cerebras-gpt-13b", "opt-175b", "bloom-176b")


def test_the_required_models_are_stored():
    assert set(REQUIRED) <= {m.name for m in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_every_model_is_cited_and_located(model):
    assert cite.entry(model.source).fields["title"]
    assert all(f.location.strip() for f in model.figures)
    assert model.params > 0 and model.tokens > 0 and model.flops > 0
    if model.flops_derived:
        assert model.flops == pytest.approx(6 * model.params * model.tokens)
    else:  # a printed budget should agree roughly with 6ND; far off means a misread figure
        assert 0.5 < model.flops / (6 * model.params * model.tokens) < 2.0, model.name
    if model.params_nonembedding is not None:
        assert model.params_nonembedding < model.params


def test_a_source_papers_models_live_in_its_law_file():
    cat = published()
    in_law_files = {m.name for s in cat.sources.values() for m in s.models}
    assert {"chinchilla", "llama3-405b", "deepseek-llm-67b"} <= in_law_files
    for m in MODELS:  # models.toml holds only models whose paper is not a source here
        if m.name not in in_law_files:
            assert m.source not in cat.sources, m.name


@pytest.mark.parametrize("name, expected", [
    ("Chinchilla", "chinchilla"), ("GPT-3", "gpt3"), ("Llama 3 405B", "llama3-405b"),
    ("llama3_405b", "llama3-405b"), ("LLAMA-3-8B", "llama3-8b"), ("palm540b", "palm-540b")])
def test_names_and_aliases(name, expected):
    assert models.get_model(name).name == expected


def test_unknown_model_names_the_closest():
    with pytest.raises(UnknownId) as err:
        models.get_model("chinchila")
    assert "chinchilla" in str(err.value)


# ----------------------------------------------------------------------------- the validator


def _hoffmann():
    return schema_document(ROOT / "laws" / "hoffmann2022.toml")


def _with_model(change):
    doc = _hoffmann()
    table = copy.deepcopy(doc["model"][0])
    change(table)
    doc["model"] = [table]
    return doc


@pytest.mark.parametrize("change, message", [
    (lambda t: t.pop("tokens"), "missing required field 'tokens'"),
    (lambda t: t.update(name="Chinchilla 70B"), "lower-case"),
    (lambda t: t["params"].update(location=" "), "location"),
    (lambda t: t["params"].update(value="-7e10"), "positive"),
    (lambda t: t["params"].update(value="seventy"), "not a number"),
    (lambda t: t.update(parameters="70B"), "unknown field 'parameters'"),
    (lambda t: t.update(source="Hoffmann"), "bibkey"),
])
def test_bad_model_tables_are_rejected(change, message):
    with pytest.raises(BadFile, match=re.escape(message)):
        load_document(_with_model(change), "hoffmann2022.toml")


def test_a_printed_flops_figure_is_not_derived():
    doc = _with_model(lambda t: t.update(flops={"value": "5.76e23", "location": "Figure 2 caption"}))
    source, _ = load_document(doc, "hoffmann2022.toml")
    m = source.models[0]
    assert m.flops == 5.76e23 and not m.flops_derived and m.source == "hoffmann2022"


# ----------------------------------------------------------------------------- the command line


def test_kb_model_chinchilla_json(kb):
    r = kb("model", "chinchilla", "--json")
    assert r.code == 0 and r.err == ""
    data = r.json()
    assert data["params"] == 70e9 and data["tokens"] == 1.4e12
    assert data["figures"]["params"]["location"] and data["figures"]["tokens"]["location"]
    assert data["source"] == "hoffmann2022" and data["flops_derived"] is True


def test_kb_model_unknown_exits_2_with_closest(kb):
    r = kb("model", "llama3-450b")
    assert r.code == 2 and r.out == ""
    assert len(r.err.strip().splitlines()) == 1 and "llama3-405b" in r.err


def test_kb_models_json_lists_every_model(kb):
    data = kb("models", "--json").json()
    assert data["count"] == len(MODELS) == len(data["models"])
    flops = [m["flops"] for m in data["models"]]
    assert flops == sorted(flops)


def test_eval_at_a_model_equals_eval_at_its_numbers(kb):
    at_model = kb("eval", "hoffmann2022.approach3", "--model", "chinchilla", "--json").json()
    by_hand = kb("eval", "hoffmann2022.approach3", "N=70e9", "D=1.4e12", "--json").json()
    assert at_model["output"] == by_hand["output"]
    assert at_model["inputs"] == {"N": 70e9, "D": 1.4e12}
    assert at_model["model"]["name"] == "chinchilla"


def test_eval_at_a_model_states_the_caveats(kb):
    data = kb("eval", "kaplan2020.L_N", "--model", "gpt3", "--json").json()
    text = " ".join(data["caveats"])
    assert "non-embedding" in text and "tokenizer" in text and "fitted on WebText2" in text
    assert data["inputs"]["N"] == 175e9  # GPT-3's non-embedding count is not stored: total, with a caveat


def test_eval_model_inputs_yield_to_the_users(kb):
    data = kb("eval", "hoffmann2022.approach3", "--model", "chinchilla", "D=2T", "--json").json()
    assert data["inputs"] == {"N": 70e9, "D": 2e12}


def test_eval_model_fills_compute_in_the_laws_units():
    law = published().law("kaplan2020.N_opt")
    inputs, notes = models.model_inputs(law, models.get_model("llama3-405b"))
    assert inputs == {next(v.symbol for v in law.variables): 3.8e25}
    assert notes == []  # 3.8e25 is printed, so nothing is derived


def test_nonembedding_count_is_used_when_the_law_counts_so():
    law = published().law("kaplan2020.L_N")
    inputs, notes = models.model_inputs(law, models.get_model("minicpm-2.4b"))
    assert inputs["N"] == models.get_model("minicpm-2.4b").params_nonembedding
    assert abs(inputs["N"] / 2.4e9 - 1) < 0.02  # "2.4B non-embedding" (abstract)


# ----------------------------------------------------------------------------- compare --models


def _svgs(html: str) -> "dict[str, str]":
    return {re.search(r'aria-label="([^"]*)"', svg).group(1): svg for svg in re.findall(r"<svg.*?</svg>", html, re.S)}


def test_compare_draws_the_models_on_the_plots(kb, tmp_path):
    out = tmp_path / "r.html"
    r = kb("compare", "kaplan2020", "hoffmann2022", "--models", "gpt3,chinchilla", "--html", out)
    assert r.code == 0, r.err
    plots = _svgs(out.read_text())
    n_plot = plots["Compute-optimal model size N_opt(C)"]
    loss_plot = plots["Loss at the compute-optimal allocation"]
    for svg, per_model in ((n_plot, 1), (loss_plot, 2)):  # the loss plot: one star per model per law
        markers = re.findall(r'<g class="model-marker"><title>([^<]*)</title>', svg)
        assert sorted(markers) == sorted(["GPT-3 (175B)", "Chinchilla (70B)"] * per_model)
    assert "Trained models against the laws" in out.read_text()


def test_compare_models_markers_sit_at_the_models_numbers(kb):
    data = kb("compare", "kaplan2020", "hoffmann2022", "--models", "chinchilla", "--json").json()
    points = data["models"]["points"]
    assert points["N"] == [{"label": "Chinchilla (70B)", "x": 6 * 70e9 * 1.4e12, "y": 70e9, "series": None}]
    by_law = {r["law"]: r["loss"] for r in data["models"]["losses"]}
    direct = kb("eval", "hoffmann2022.approach3", "N=70e9", "D=1.4e12", "--json").json()["output"]["value"]
    assert by_law["hoffmann2022.approach3"] == pytest.approx(direct)
    assert {p["y"] for p in points["loss"]} == {v for v in by_law.values() if v is not None}


def test_compare_unknown_model_exits_2_and_writes_nothing(kb, tmp_path):
    out = tmp_path / "r.html"
    r = kb("compare", "kaplan2020", "hoffmann2022", "--models", "gpt3,chinchila", "--html", out)
    assert r.code == 2 and "chinchilla" in r.err and len(r.err.strip().splitlines()) == 1
    assert not out.exists()


def test_compare_without_models_has_no_markers(kb, tmp_path):
    out = tmp_path / "r.html"
    assert kb("compare", "kaplan2020", "hoffmann2022", "--html", out).code == 0
    assert "model-marker" not in out.read_text()


def test_models_file_requires_each_models_source():
    from kb.schema import load_models_document, parse_toml

    text = (ROOT / "laws" / "models.toml").read_text()
    assert len(load_models_document(parse_toml(text, "models.toml"), "models.toml")) >= 5
    without = text.replace('source = "brown2020"\n', "", 1)
    with pytest.raises(BadFile, match="missing required field 'source'"):
        load_models_document(parse_toml(without, "models.toml"), "models.toml")
    with pytest.raises(BadFile, match="unknown field 'law'"):
        load_models_document(parse_toml(text + '\n[[law]]\nname = "x"\n', "models.toml"), "models.toml")


def test_eval_unknown_model_exits_2(kb):
    r = kb("eval", "hoffmann2022.approach3", "--model", "chinchila")
    assert r.code == 2 and r.out == "" and "chinchilla" in r.err
