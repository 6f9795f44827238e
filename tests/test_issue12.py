"""Issue 12, as a new user meets it: Chinchilla's tabulated allocation, Kaplan's C vs C_min,
honest caveats, the names people use, sweeps, your own fits, terminals of a given width."""

import pytest

from conftest import SHARED_DATA

EPOCH = SHARED_DATA / "epoch-chinchilla" / "svg_extracted_data.csv"
needs_data = pytest.mark.skipif(not EPOCH.exists(), reason="shared/data is not next to the checkout")  # as in test_fit


def test_approach1_reproduces_table3_at_the_gopher_budget(kb):
    data = kb("optimal", "hoffmann2022.approach1", "--compute", "5.76e23", "--json").json()
    row = data["results"][0]
    assert abs(row["N"] / 67e9 - 1) < 0.02
    assert 21.5 < row["tokens_per_param"] < 23
    assert row["over_budget"]  # 6 x 67B x 1.5T = 6.03e23: the printed row spends 4.7% more, and says so
    assert "Table 3" in data["method"]


def test_compare_exposes_the_flops_each_row_spends(kb):
    data = kb("compare", "kaplan2020", "hoffmann2022", "--json").json()
    ids = [p["id"] for p in data["predictions"]]
    assert ids == ["kaplan2020", "hoffmann2022", "hoffmann2022.approach2", "hoffmann2022.approach3"]
    for p in data["predictions"]:
        for r in p["results"]:
            assert r["flops_spent"] == pytest.approx(6 * r["N"] * r["D"], rel=1e-9)
            assert r["spent_over_budget"] == pytest.approx(r["flops_spent"] / r["compute"], rel=1e-9)
            # nothing spends more than the budget without the flag (1.5% rounding allowance)
            assert r["over_budget"] == (r["spent_over_budget"] > 1.015)
            if r["over_budget"]:
                assert any("spends more than the budget" in w for w in p["warnings"])
    kaplan = data["predictions"][0]
    assert kaplan["law_compute"]["relation"] == "C_min = C / 2" and "eq (5.5)" in kaplan["law_compute"]["location"]
    assert all(r["law_compute"]["value"] == r["compute"] / 2 for r in kaplan["results"])
    assert all(r["spent_over_budget"] < 1 for r in kaplan["results"])  # 0.903, not the old 1.806
    headline = next(h for h in data["headlines"] if h["source"] == "hoffmann2022")
    assert headline["allocation"] == "hoffmann2022.approach1" and "32B" in headline["why"] and "40B" in headline["why"]
    assert data["ratios"][0]["loss_comparable"] is False and "dataset" in data["ratios"][0]["loss_note"]


def test_compare_budgets_option(kb):
    data = kb("compare", "kaplan2020", "hoffmann2022", "--compute", "5.76e23,1e21", "--json").json()
    assert data["budgets"] == [1e21, 5.76e23]
    assert kb("compare", "kaplan2020", "hoffmann2022", "--budgets", "nope").code == 2


def test_reports_state_the_32b_and_the_spent_compute(kb, tmp_path):
    html, md, tex = tmp_path / "r.html", tmp_path / "r.md", tmp_path / "r.tex"
    r = kb("compare", "kaplan2020", "hoffmann2022", "--html", html, "--md", md, "--tex", tex)
    assert r.code == 0, r.err
    for path in (html, md, tex):
        text = path.read_text()
        assert "32B at the Gopher budget" in text and "40B" in text, path
        assert "headline allocation" in text, path
        assert ("C_min" in text or "C\\_min" in text) and ("6ND" in text), path
    page = html.read_text()
    assert page.index("Predictions on a common grid") < page.index("Laws side by side")
    assert "spent 6ND (FLOP)" in page and "over</span>" in page
    for out in ("6ND/C", "C_min (FLOP)", "Headline of hoffmann2022"):
        assert out in r.out


def test_caveats_only_where_conditions_differ(kb):
    data = kb("compare", "hoffmann2022.approach3", "besiroglu2024.approach3_refit", "--json").json()
    text = " ".join(data["caveats"]).lower()
    assert "dataset differs" not in text and "tokenizer differs" not in text and "loss definition differs" not in text
    assert data["notices"] == []
    headline = kb("compare", "kaplan2020", "hoffmann2022", "--json").json()
    assert any(c.startswith("Dataset differs") for c in headline["caveats"])


def test_a_side_without_a_comparable_law_is_said_first(kb):
    r = kb("compare", "hoffmann2022.approach3", "kaplan2020.B_crit")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].startswith("NOTE: kaplan2020.B_crit has no law comparable")


@pytest.mark.parametrize("ident", ["chinchilla", "Hoffmann2022", "CHINCHILLA", "hoffmann"])
def test_sources_by_alias_and_case(kb, ident):
    data = kb("show", ident, "--json").json()
    assert data["bibkey"] == "hoffmann2022" and "chinchilla" in data["aliases"]


def test_a_source_stands_for_its_headline_loss_law(kb):
    a = kb("eval", "chinchilla", "N=70b", "D=1.4t", "--json").json()
    b = kb("eval", "Hoffmann2022.approach3", "N=70bn", "D=1.4T", "--json").json()
    assert a["law"] == b["law"] == "hoffmann2022.approach3"
    assert a["output"]["value"] == b["output"]["value"] == pytest.approx(1.9366, abs=1e-4)


def test_unknown_ids_suggest_aliases_and_units_list_suffixes(kb):
    r = kb("show", "chinchila")
    assert r.code == 2 and "chinchilla" in r.err and len(r.err.strip().splitlines()) == 1
    r = kb("eval", "hoffmann2022.approach3", "N=70x", "D=1T")
    assert r.code == 2 and "suffixes" in r.err and "bn" in r.err


def test_cli_errors_point_to_the_subcommand_help(kb):
    r = kb("optimal", "hoffmann2022")
    assert r.code == 2 and "kb optimal --help" in r.err


def test_cite_several_keys(kb):
    r = kb("cite", "kaplan2020", "hoffmann2022")
    assert r.code == 0 and "@article{kaplan2020" in r.out and "@inproceedings{hoffmann2022" in r.out
    many = kb("cite", "kaplan2020", "chinchilla", "--json").json()
    assert [c["key"] for c in many["citations"]] == ["kaplan2020", "hoffmann2022"]
    assert kb("cite", "kaplan2020", "--json").json()["key"] == "kaplan2020"  # one key: the old shape


def test_search_ranks_the_source_first(kb):
    ids = [law["id"] for law in kb("search", "kaplan", "--json").json()["laws"]]
    first_other = next(i for i, x in enumerate(ids) if not x.startswith("kaplan2020."))
    assert ids[0].startswith("kaplan2020.") and all(not x.startswith("kaplan2020.") for x in ids[first_other:])
    assert any(not x.startswith("kaplan2020.") for x in ids)  # other papers mention Kaplan too


def test_list_and_search_agree_with_the_store(kb, tmp_path):
    """The packaged catalog answers while the store has no user laws; the store answers after
    one is added, and both give the same published ids."""
    before = kb("search", "loss", "--json").json()
    mine = tmp_path / "mine.toml"
    mine.write_text('schema = 1\n[source]\nbibkey = "mylab2026"\ntitle = "mine"\nyear = 2026\n'
                    '[[law]]\nname = "l"\nkind = "loss"\nlocation = "here"\nformula = "A / N**a"\n'
                    'predicts = { symbol = "L", unit = "nats/token" }\n'
                    'variables.N = { meaning = "parameters", unit = "params" }\n'
                    'constants.A = { value = "2", location = "here" }\nconstants.a = { value = "0.1", location = "here" }\n')
    assert kb("add", mine).code == 0
    after = kb("search", "loss", "--json").json()
    assert [i for i in after["laws"] if not i["id"].startswith("mylab2026")] == before["laws"]
    assert "mylab2026.l" in [i["id"] for i in after["laws"]]


def test_sweeps_pair_or_grid(kb):
    r = kb("eval", "hoffmann2022.approach3", "N=1B,10B,100B", "D=20B,200B")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "--grid" in r.err and "Traceback" not in r.err
    paired = kb("eval", "hoffmann2022.approach3", "N=1B,10B", "D=20B,200B", "--json").json()
    assert paired["inputs"] == {"N": [1e9, 1e10], "D": [2e10, 2e11]} and len(paired["output"]["value"]) == 2
    grid = kb("eval", "hoffmann2022.approach3", "N=1B,10B,100B", "D=20B,200B", "--grid", "--json").json()
    assert grid["inputs"]["N"] == [1e9, 1e9, 1e10, 1e10, 1e11, 1e11] and grid["inputs"]["D"] == [2e10, 2e11] * 3
    one = kb("eval", "hoffmann2022.approach3", "N=1B", "D=20B", "--json").json()["output"]["value"]
    assert grid["output"]["value"][0] == pytest.approx(one, rel=1e-12)
    text = kb("eval", "hoffmann2022.approach3", "N=1B,10B", "D=20B,200B").out
    assert "1.000e+09" in text and "2.000e+11" in text  # the inputs are repeated beside each output


@needs_data
def test_fits_replace_remove_and_status(kb):
    first = kb("fit", EPOCH, "--bootstrap", "8", "--save", "x2026.a")
    assert first.code == 0, first.err
    assert "N_opt = " in first.out and " .. " in first.out and "2.5-97.5 percentile of 8 bootstrap draws" in first.out
    assert "largest 6ND among your runs" in first.out
    again = kb("fit", EPOCH, "--save", "x2026.a")
    assert again.code == 2 and "--replace" in again.err
    assert kb("fit", EPOCH, "--save", "x2026.a", "--replace").code == 0
    assert kb("fit", EPOCH, "--save", "x2026.b").code == 0
    listed = kb("list", "--source", "x2026", "--json").json()["laws"]
    assert [(law["id"], law["status"], law["verified"]) for law in listed] == [("x2026.a", "fitted", False),
                                                                               ("x2026.b", "fitted", False)]
    refused = kb("remove", "x2026.a", input="")  # no terminal, no --yes
    assert refused.code == 2 and "--yes" in refused.err
    assert kb("remove", "x2026.a", "--yes").code == 0
    assert [law["id"] for law in kb("list", "--source", "x2026", "--json").json()["laws"]] == ["x2026.b"]
    for published in ("hoffmann2022.approach3", "chinchilla", "kaplan2020"):
        r = kb("remove", published, "--yes")
        assert r.code == 2 and "published" in r.err


def test_terminal_output_fits_columns(kb):
    for command in (("list",), ("search", "loss"), ("compare", "kaplan2020", "hoffmann2022")):
        for width in (100, 80):
            out = kb(*command, env={"COLUMNS": str(width)}).out
            longest = max(len(line) for line in out.splitlines())
            assert longest <= width, (command, width, longest)


def test_shell_completion_is_offered(kb):
    assert "--install-completion" in kb("--help").out
    r = kb("--show-completion", env={"SHELL": "/bin/bash"})
    assert r.code == 0 and "kb" in r.out and "complete" in r.out
