"""kb.fit and kb.forms on real training-run data (../shared/data; see each folder's README).

Data and papers:
- epoch-chinchilla: Chinchilla runs digitised by Besiroglu, Erdil, Barnett & You 2024,
  "Chinchilla Scaling: A replication attempt" (arXiv 2404.10102), from Hoffmann et al. 2022
  (arXiv 2203.15556) Fig. 4. No licence: read here as test data, never copied into kb/.
- porian: Porian et al. 2024, "Resolving Discrepancies in Compute-Optimal Scaling of
  Language Models" (arXiv 2406.19146), MIT.
- chinchilla-pypi-example: the same points as the `chinchilla` package example (Apache-2.0).
"""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from kb import fit as kbfit
from kb import forms
from kb.errors import BadFile, KbError
from kb.schema import load_document

DATA = Path(__file__).parents[2] / "shared" / "data"
EPOCH = DATA / "epoch-chinchilla" / "svg_extracted_data.csv"
PORIAN = DATA / "porian"

# Besiroglu et al. 2024, as quoted (epoch-chinchilla/README.md, "value quoted for the paper")
PUBLISHED = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}

needs_data = pytest.mark.skipif(not EPOCH.exists(), reason="shared/data is not next to the checkout")


def epoch_rows():
    """The Besiroglu recipe: drop the 5 highest-loss rows (240 points left); D = C/(6N)."""
    table = kbfit.read_csv(EPOCH)
    loss = np.array(table["loss"], float)
    keep = np.sort(np.argsort(loss, kind="stable")[:-5])
    return {k: [v[i] for i in keep] for k, v in table.items()}


@pytest.fixture(scope="module")
def epoch_fit():
    return kbfit.fit(epoch_rows(), "chinchilla", objective="huber-log", bootstrap=400, seed=1,
                     budget=5.76e23)


# ----------------------------------------------------------------------------- Approach 3


@needs_data
def test_epoch_refit_matches_besiroglu(epoch_fit):
    p = epoch_fit["params"]
    assert epoch_fit["n_points"] == 240
    # E, alpha, beta are well determined: the README's own grid re-run lands within 0.0015
    # of the quoted values (alpha 0.3473 vs 0.3478, beta 0.3672 vs 0.3658); 0.005 leaves room
    # for optimiser differences while still excluding Hoffmann's 0.34 / 0.28 and the MSE
    # optimum (beta 0.428).
    for name in ("E", "alpha", "beta"):
        assert abs(p[name] - PUBLISHED[name]) < 0.005, (name, p[name])
    # A and B lie along a flat valley (they move by percent for 1e-9 changes in the objective;
    # the re-run gives A 0.9% and B 2.8% from the quoted values), so they get relative tolerances.
    for name in ("A", "B"):
        assert abs(p[name] / PUBLISHED[name] - 1) < 0.05, (name, p[name])
    # no worse than the README's 4,500-start L-BFGS-B re-run (objective 1.01827e-3, printed to 6 digits)
    # (printed to 6 digits: allow half a unit in the last digit; bench/fit.py compares in-process)
    assert epoch_fit["objective_value"] <= 1.018275e-3
    assert epoch_fit["converged"]
    assert epoch_fit["starts"]["reached_best"] >= 2
    # allocation: a = beta/(alpha+beta) = 0.513 (README: +-0.005); at 5.76e23 FLOP the re-run
    # gives N_opt 7.32e10 and D/N 17.9; 3% covers the flat A/B direction
    d = epoch_fit["derived"]
    assert abs(d["a"] - 0.513) < 0.005
    assert abs(d["N_opt"] / 7.32e10 - 1) < 0.03
    assert abs(d["tokens_per_param"] / 17.9 - 1) < 0.03
    # N_opt at the Gopher budget is beyond the largest model: that must be said
    assert any("N_opt" in w and "outside" in w for w in epoch_fit["warnings"])


@needs_data
def test_epoch_bootstrap_cis_contain_published(epoch_fit):
    ci = epoch_fit["ci"]
    for name, value in PUBLISHED.items():
        lo, hi = ci[name]
        assert lo < value < hi, (name, lo, hi)
        assert lo < epoch_fit["params"][name] < hi
    for name in ("a", "b", "N_opt", "D_opt"):
        assert name in ci and ci[name][0] < ci[name][1]
    boot = epoch_fit["bootstrap"]
    assert boot["draws"] == 400 and boot["converged"] >= 0.95 * 400
    # the quoted bootstrap SEs: alpha 0.02, beta 0.02, E 0.03; ours should be of that size
    # (400 draws: within a factor 2)
    for name, se in (("E", 0.03), ("alpha", 0.02), ("beta", 0.02)):
        assert se / 2 < boot["se"][name] < se * 2
    # A and alpha move together along the valley; correlations are a symmetric matrix
    c = epoch_fit["correlations"]
    assert c["A"]["alpha"] > 0.9 and c["alpha"]["A"] == pytest.approx(c["A"]["alpha"])
    json.dumps(epoch_fit, allow_nan=False)  # JSON-able, no NaN


@needs_data
def test_bootstrap_progress_and_seed():
    rows = epoch_rows()
    calls = []
    r1 = kbfit.fit(rows, "chinchilla", bootstrap=50, seed=7, progress=lambda done, total: calls.append((done, total)))
    r2 = kbfit.fit(rows, "chinchilla", bootstrap=50, seed=7)
    assert calls[0] == (0, 50) and calls[-1] == (50, 50)
    assert r1["ci"] == r2["ci"]


@needs_data
def test_objective_choice_moves_beta():
    """DESIGN.md: on these points the objective moves beta by 0.05+ (log-Huber 0.366, MSE
    0.428, asymmetric 0.356 on the package's filter); MSE must land far from log-Huber."""
    rows = epoch_rows()
    huber = kbfit.fit(rows, "chinchilla")["params"]["beta"]
    mse = kbfit.fit(rows, "chinchilla", objective="mse")
    assert mse["converged"]
    assert abs(mse["params"]["beta"] - 0.428) < 0.01  # DESIGN.md figure, to its 3 digits +- rounding of data
    assert mse["params"]["beta"] - huber > 0.05
    asym = kbfit.fit(rows, "chinchilla", objective="asym")
    # a lower envelope: most points sit on or above the fitted surface
    f = forms.get("chinchilla").compiled()
    data, _, _ = kbfit.resolve(rows, ("N", "D"), "loss")
    pred = f({**data, **asym["params"]})
    assert np.mean(pred <= data["loss"] * (1 + 1e-3)) > 0.7


@needs_data
def test_fit_csv_and_law_document(tmp_path):
    result = kbfit.fit_csv(EPOCH, "chinchilla")  # all 245 rows, columns guessed
    assert result["n_points"] == 245
    assert result["columns"]["N"] == "Model Size"
    assert result["data_hash"].startswith("sha256:")
    doc = kbfit.to_law_document(result, "myruns2026.chinchilla_refit")
    source, laws = load_document(doc, "fit", origin="user")
    law = laws[0]
    assert law.id == "myruns2026.chinchilla_refit" and law.origin == "user"
    assert f"fit of {EPOCH.name}" in law.location and result["data_hash"] in law.location
    assert math.isclose(law.constant("alpha").value, result["params"]["alpha"], rel_tol=1e-5)
    # a fit with a bootstrap carries intervals; a plain name gets a user bibkey
    boot = kbfit.fit(epoch_rows(), "chinchilla", bootstrap=20)
    boot["file"] = "runs.csv"
    _, laws = load_document(kbfit.to_law_document(boot, "mine"), "fit", origin="user")
    assert laws[0].constant("E").interval is not None


@needs_data
def test_pypi_example_columns_and_units(tmp_path):
    """Columns C, N, D, loss; values written with suffixes ('70B') read like plain numbers."""
    table = kbfit.read_csv(DATA / "chinchilla-pypi-example" / "df.csv")
    with_units = dict(table)
    with_units["N"] = [f"{float(v) / 1e9!r}B" for v in table["N"]]
    r1 = kbfit.fit(table, "chinchilla")
    r2 = kbfit.fit(with_units, "chinchilla")
    assert r1["params"]["alpha"] == pytest.approx(r2["params"]["alpha"], rel=1e-6)


# ----------------------------------------------------------------------------- Approach 2


def _porian_configs():
    keys = ("dataset", "hparams", "warmup", "decay", "param_count", "val", "source_file")
    with open(PORIAN / "porian_fit_results.csv", newline="") as fh:
        results = list(csv.DictReader(fh))
    return keys, results


@pytest.mark.skipif(not PORIAN.exists(), reason="shared/data/porian missing")
def test_approach2_porian_sequence():
    """Porian et al. Fig. 1 sequence: a of N*(C) ~ C^a from 0.83 (Kaplan-like) to 0.50."""
    points = kbfit.read_csv(PORIAN / "porian_isoflop_points.csv")
    keys, results = _porian_configs()
    # README "Fit to reproduce": RW then OWT2, in the Fig. 1 order
    sequence = [
        (("rw", "base", "long", "kaplan", "kaplan"), 0.834),
        (("rw", "base", "long", "kaplan", "standard"), 0.701),
        (("rw", "base", "short", "kaplan", "standard"), 0.604),
        (("rw", "base", "short", "chinchilla", "standard"), 0.571),
        (("rw", "tuned", "short", "const", "standard"), 0.497),
        (("owt2", "base", "long", "kaplan", "kaplan"), 0.870),
        (("owt2", "base", "long", "kaplan", "standard"), 0.700),
        (("owt2", "base", "short", "kaplan", "standard"), 0.602),
        (("owt2", "base", "short", "chinchilla", "standard"), 0.569),
        (("owt2", "tuned", "short", "const", "standard"), 0.518),
    ]
    got = []
    for config, expected in sequence:
        row = next(r for r in results if tuple(r[k] for k in keys[:5]) == config)
        sel = [i for i in range(len(points["loss"])) if all(points[k][i] == row[k] for k in keys)]
        result = kbfit.fit({k: [v[i] for i in sel] for k, v in points.items()}, "chinchilla", approach=2)
        a = result["params"]["a"]
        got.append(a)
        # The authors interpolate and bootstrap before taking each minimum; a plain parabola
        # through 5 runs moves a by ~0.02 (README). 0.03 is the README's bound for this naive
        # re-run. Exception: "reproduce Kaplan" (RW) where the README's own naive re-run gives
        # 0.865 vs 0.834 (0.031) and we give 0.864; it is held to 0.035, and to 0.03 of the
        # authors' bootstrap median 0.835.
        tol = 0.035 if config == sequence[0][0] else 0.03
        assert abs(a - expected) < tol, (config, a, expected)
        if config == sequence[0][0]:
            assert abs(a - 0.835) < 0.03
        assert any("biased" in w for w in result["warnings"])
        assert result["approach"] == 2 and len(result["derived"]["minima"]) >= 8
    # the sequence falls monotonically within each dataset, as in Fig. 1
    assert all(x > y for x, y in zip(got[:5], got[1:5]))
    assert all(x > y for x, y in zip(got[5:], got[6:]))


@pytest.mark.skipif(not PORIAN.exists(), reason="shared/data/porian missing")
def test_approach2_bootstrap_and_document():
    points = kbfit.read_csv(PORIAN / "porian_isoflop_points.csv")
    keys, results = _porian_configs()
    row = next(r for r in results if (r["dataset"], r["hparams"], r["decay"]) == ("rw", "tuned", "const")
               and r["param_count"] == "standard")
    sel = [i for i in range(len(points["loss"])) if all(points[k][i] == row[k] for k in keys)]
    result = kbfit.fit({k: [v[i] for i in sel] for k, v in points.items()}, "chinchilla", approach=2,
                       bootstrap=100, seed=3)
    lo, hi = result["ci"]["a"]
    assert lo < result["params"]["a"] < hi
    _, laws = load_document(kbfit.to_law_document(result, "porian2024x.a2"), "fit", origin="user")
    assert laws[0].kind == "allocation"


# ----------------------------------------------------------------------------- bad CSVs


def _write(tmp_path, text, name="runs.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("N,D,loss\n", "no data rows"),
    ("N,tokens_seen_weird,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n", "no column for D"),
    ("N,D,loss\n1e8,2e9,3.1\n2e8,abc,2.9\n4e8,8e9,2.7\n", "row 2, column 'D'"),
    ("N,D,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n", "cannot determine 5 parameters"),
    ("N,D,loss\n1e8,2e9,3.1\n2e8,4e9\n", "line 3"),
    ("N,D,loss\n1e8,2e9,-3.1\n2e8,4e9,2.9\n", "not positive"),
])
def test_bad_csv_raises_badfile(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(BadFile) as err:
        kbfit.fit_csv(path, "chinchilla")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_unknown_form(tmp_path):
    with pytest.raises(BadFile):
        kbfit.fit_csv(tmp_path / "nope.csv", "chinchilla")
    with pytest.raises(KbError, match="closest"):
        kbfit.fit_csv(_write(tmp_path, "N,D,loss\n1,2,3\n"), "chinchila")
    with pytest.raises(KbError, match="objective"):
        kbfit.fit({"N": [1e8] * 6, "D": [1e9] * 6, "loss": [3.0] * 6}, "chinchilla", objective="l1")


def test_suffixes_and_int_overflow(tmp_path):
    """70B-style values; 6*N*D computed in floats (it overflows int64 at these sizes)."""
    N = [7e7, 3e8, 1e9, 3e9, 7e10, 2e11]
    rows = []
    for n in N:
        for mult in (5, 20, 80):
            d = n * mult
            loss = 1.8 + 400 / n**0.34 + 2000 / d**0.37
            rows.append(f"{n / 1e9:g}B,{int(6 * n * d)},{loss!r}")
    path = _write(tmp_path, "params,compute,loss\n" + "\n".join(rows) + "\n")
    r = kbfit.fit_csv(path, "chinchilla")
    assert r["params"]["alpha"] == pytest.approx(0.34, abs=1e-4)
    assert r["params"]["beta"] == pytest.approx(0.37, abs=1e-4)


# ----------------------------------------------------------------------------- forms


def test_symbolic_derivatives_match_finite_differences():
    rng = np.random.default_rng(0)
    cases = {
        "chinchilla": {"E": 1.7, "A": 400.0, "B": 1500.0, "alpha": 0.34, "beta": 0.3},
        "kaplan": {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095},
        "isik_bleu": {"A": 0.05, "alpha": 0.3, "beta": 1.5},
        "muennighoff": {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.35, "beta": 0.35,
                        "R_N_star": 5.3, "R_D_star": 15.4},
    }
    for name, params in cases.items():
        form = forms.get(name)
        env = {"N": 10 ** rng.uniform(7, 10, 20), "D": 10 ** rng.uniform(9, 12, 20)}
        env["U_D"] = env["D"] / rng.uniform(1, 30, 20)
        env["X"] = env["N"]
        env.update(params)
        env.update(forms.helper_env())
        f = form.compiled()
        first, second = form.derivatives(form.names)
        for p in form.names:
            h = 1e-6 * abs(params[p])
            up, dn = dict(env), dict(env)
            up[p] += h
            dn[p] -= h
            fd = (f(up) - f(dn)) / (2 * h)
            np.testing.assert_allclose(first[p](env), fd, rtol=1e-5, atol=1e-9 * np.abs(f(env)).max() / abs(params[p]))
            for q in form.names:
                key = (p, q) if (p, q) in second else (q, p)
                fd2 = (first[q](up) - first[q](dn)) / (2 * h)
                np.testing.assert_allclose(second[key](env), fd2, rtol=1e-4,
                                           atol=1e-7 * np.abs(f(env)).max() / abs(params[p] * params[q]))


@pytest.mark.parametrize("name, truth, fixed", [
    ("kaplan", {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095}, None),
    ("power", {"A": 30.0, "alpha": 0.07}, None),
    ("power_offset", {"E": 1.5, "A": 300.0, "alpha": 0.3}, None),
    ("isik_bleu", {"A": 0.05, "alpha": 0.3, "beta": 1.5}, None),
    ("isik_ce", {"E": 0.9, "A": 50.0, "alpha": 0.2}, None),
    ("muennighoff", {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.35, "beta": 0.35,
                     "R_N_star": 5.3, "R_D_star": 15.4},
     {"E": 1.87, "A": 521.0, "B": 1488.0, "alpha": 0.35, "beta": 0.35}),
    ("broken_power", {"E": 1.2, "B": 40.0, "c0": 0.05, "c1": 0.3, "d1": 3e8, "f1": 0.5}, None),
    ("multiplicative", {"A": 80.0, "alpha": 0.07, "beta": 0.09}, None),
    ("multiplicative_offset", {"E": 1.6, "A": 3e4, "alpha": 0.2, "beta": 0.25}, None),
    ("shifted_power", {"E": 1.5, "A": 300.0, "X_0": 2e8, "alpha": 0.4}, None),
    ("kaplan_n", {"N_c": 8.8e13, "alpha_N": 0.076}, None),
    ("kaplan_c", {"C_c": 2.0e27, "alpha_C": 0.05}, None),
    ("compute_offset", {"E": 1.7, "A": 2e3, "alpha": 0.15}, None),
    ("params_offset", {"E": 1.7, "A": 400.0, "alpha": 0.34}, None),
])
def test_every_form_recovers_its_own_parameters(name, truth, fixed):
    """Noise-free data generated from each form: the fit returns the generating values."""
    form = forms.get(name)
    rng = np.random.default_rng(1)
    n = 60
    env = {"N": 10 ** rng.uniform(7, 10, n), "D": 10 ** rng.uniform(9, 12, n)}
    env["U_D"] = env["D"] / rng.uniform(1, 40, n)
    env["X"] = env["N"]
    env["C"] = 6 * env["N"] * env["D"]
    env.update(truth)
    env.update(forms.helper_env())
    y = form.compiled()(env)
    rows = {v: env[v] for v in form.variables}
    rows[form.target] = y
    r = kbfit.fit(rows, name, fixed=fixed)
    assert r["converged"], r["warnings"]
    for p, v in truth.items():
        assert r["params"][p] == pytest.approx(v, rel=1e-3), (p, r["params"][p])
    doc = kbfit.to_law_document(r, f"synthetic2026.{name}")
    load_document(doc, "fit", origin="user")


def test_forms_are_data():
    for form in forms.FORMS.values():
        assert isinstance(form.formula, str)
        for p in form.params:
            assert p.lo < p.hi and all(p.lo <= s <= p.hi for s in p.start)
            assert p.linear or p.start or len(form.params) == 1


@pytest.mark.parametrize("change, problem", [
    (("params = [", "params = [\n  { name = \"Z\", lo = 1.0, hi = 2.0, sharp = true },"), "unknown parameter keys"),
    (('start = "exp_pair"', 'start = "exp_pairs"'), "names no grid"),
    (('derived = "allocation"', 'derived = "allocations"'), "names no derived set"),
    (('name = "chinchilla"', 'name = "chinchilla"\nslope = 1'), "unknown keys"),
])
def test_forms_file_is_read_strictly(tmp_path, change, problem):
    # the forms file is data: a typo in it is an error naming the form, never a silent default
    text = (Path(forms.__file__).with_name("forms.toml")).read_text()
    old, new = change
    assert old in text
    bad = tmp_path / "forms.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(KbError, match=problem):
        forms._load(bad)
    assert forms._load(Path(forms.__file__).with_name("forms.toml")) == forms.FORMS


def test_few_scales_warning():
    n = np.array([1e8, 1e8, 1e9, 1e9] * 3)
    d = np.array([2e9, 2e10, 2e10, 2e11, 5e9, 5e10] * 2)
    loss = 1.8 + 400 / n**0.34 + 2000 / d**0.37
    r = kbfit.fit({"N": n, "D": d, "loss": loss}, "chinchilla")
    assert any(w.startswith("N has only 2 distinct scales") for w in r["warnings"])


# ----------------------------------------------------------------------------- issue 15

GADRE = DATA / "gadre-overtraining" / "gadre_losses_flat.csv"


def gadre_c4_table1():
    """Gadre et al. 2024 (arXiv 2403.08540; MIT data): the Table-1 configurations the paper
    fits, trained on C4 and evaluated on c4_val: N in {0.011, 0.079, 0.154, 0.411}B at
    M = 20 tokens/param, plus 0.011B at M = 320 (gadre-overtraining/README.md)."""
    with open(GADRE, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["dataset"] == "c4_original" and r["val_set"] == "c4_val"]
    sel = [r for r in rows if (float(r["tokens_per_param"]) == 20 and float(r["params"]) < 1e9)
           or (float(r["tokens_per_param"]) == 320 and float(r["params"]) < 2e7)]
    return {"N": [float(r["params"]) for r in sel], "D": [float(r["tokens"]) for r in sel],
            "loss": [float(r["loss"]) for r in sel]}


@pytest.mark.skipif(not GADRE.exists(), reason="shared/data is not next to the checkout")
def test_gadre_tied_fit_reproduces_table6():
    """Table 6 (C4): E 1.51, a 141, b 190, eta 0.121 for L = E + (a M^eta + b M^-eta) C^-eta,
    which is Chinchilla with alpha = beta = 2 eta, a = A 6^eta, b = B 6^eta (C = 6ND, M = D/N).
    The paper fits with scipy curve_fit (least squares on the loss): --objective mse."""
    t = gadre_c4_table1()
    assert len(t["loss"]) == 5
    r = kbfit.fit(t, "chinchilla", objective="mse", tie={"alpha": "beta"})
    p = r["params"]
    assert p["alpha"] == p["beta"] and r["tied"] == {"beta": "alpha"}
    eta = p["alpha"] / 2
    assert round(eta, 3) == 0.121  # printed to 3 decimals
    assert round(p["E"], 2) == 1.51
    assert round(p["A"] * 6 ** eta) == 141
    assert abs(p["B"] * 6 ** eta - 190) < 1.0  # printed to 3 figures
    # the log-Huber objective moves eta off the printed value: the objective matters here
    hub = kbfit.fit(t, "chinchilla", tie={"alpha": "beta"})["params"]
    assert round(hub["alpha"] / 2, 3) != 0.121


@needs_data
def test_weights_all_ones_equal_unweighted_and_nonuniform_differ(tmp_path):
    rows = epoch_rows()
    plain = kbfit.fit(rows, "chinchilla")
    ones = kbfit.fit(rows, "chinchilla", weights=np.ones(240))
    assert ones["weighted"] and not plain["weighted"]
    for k, v in plain["params"].items():
        assert ones["params"][k] == pytest.approx(v, rel=1e-9)
    assert ones["objective_value"] == pytest.approx(plain["objective_value"], rel=1e-12)
    # weight the large models 10x: the fit follows them, the exponents move
    n = np.array(rows["Model Size"], float)
    w = np.where(n > 1e9, 10.0, 1.0)
    heavy = kbfit.fit({**rows, "weight": w}, "chinchilla")  # a `weight` column is found by name
    assert heavy["weighted"] and heavy["columns"]["weight"] == "weight"
    assert abs(heavy["params"]["alpha"] - plain["params"]["alpha"]) > 1e-3
    assert heavy["data_hash"] != plain["data_hash"]
    # integer weights are repeated rows: weight 2 on a row = the row twice
    w2 = np.ones(240)
    w2[:40] = 2
    dup = {k: list(v) + list(v[:40]) for k, v in rows.items()}
    a = kbfit.fit(rows, "chinchilla", weights=w2)["params"]
    b = kbfit.fit(dup, "chinchilla")["params"]
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6)
    with pytest.raises(BadFile, match="weights"):
        kbfit.fit(rows, "chinchilla", weights=-np.ones(240))
    with pytest.raises(KbError, match="240 rows"):
        kbfit.fit(rows, "chinchilla", weights=np.ones(3))


@needs_data
def test_fix_bounds_starts_and_tie_errors():
    rows = epoch_rows()
    r = kbfit.fit(rows, "chinchilla", fixed={"alpha": 0.34})
    assert r["params"]["alpha"] == 0.34 and r["fixed"] == {"alpha": 0.34}
    b = kbfit.fit(rows, "chinchilla", bounds={"E": (1.9, 3.0)})
    assert b["params"]["E"] == pytest.approx(1.9) and any("E = 1.9 is at its bound" in w for w in b["warnings"])
    g = kbfit.fit(rows, "chinchilla", grid={"alpha": (0.3, 0.4), "beta": (0.3, 0.4)}, starts=2)
    assert g["starts"]["grid"] == 4 and g["starts"]["polished"] >= 1
    assert g["objective_value"] == pytest.approx(kbfit.fit(rows, "chinchilla")["objective_value"], rel=1e-9)
    for kwargs, msg in [({"tie": {"alpha": "gamma"}}, "no parameter 'gamma'"),
                        ({"tie": {"alpha": "beta"}, "fixed": {"beta": 0.3}}, "tied to 'alpha'"),
                        ({"bounds": {"E": (3, 1)}}, "lo < hi"),
                        ({"grid": {"alpha": (5.0,)}}, "within its bounds"),
                        ({"starts": 0}, "positive integer")]:
        with pytest.raises(KbError, match=msg):
            kbfit.fit(rows, "chinchilla", **kwargs)


def test_parse_options_as_typed():
    o = kbfit.parse_options(fix=["alpha=0.34"], tie=["alpha=beta"], bounds=["E=0.5:3", "A=1:1e6"],
                            starts=["16", "alpha=0.1:1.2:12"], predict=["N=70B,D=1.4T"])
    assert o["fixed"] == {"alpha": 0.34} and o["tie"] == {"alpha": "beta"}
    assert o["bounds"] == {"E": (0.5, 3.0), "A": (1.0, 1e6)}
    assert o["starts"] == 16 and len(o["grid"]["alpha"]) == 12 and o["grid"]["alpha"][-1] == pytest.approx(1.2)
    assert o["predict"] == {"N": 70e9, "D": 1.4e12}
    for bad in [{"fix": ["alpha"]}, {"bounds": ["E=1"]}, {"starts": ["many"]}, {"fix": ["alpha=1", "alpha=2"]},
                {"predict": ["N=x"]}]:
        with pytest.raises(KbError):
            kbfit.parse_options(**bad)


@needs_data
def test_api_data_kinds_and_lazy_import():
    import subprocess
    import sys

    import kb

    rows = epoch_rows()
    ref = kbfit.fit(rows, "chinchilla")["params"]
    as_arrays = {k: np.asarray(v) if k in ("Model Size", "Training FLOP", "loss") else v for k, v in rows.items()}
    assert kb.fit(as_arrays, form="chinchilla")["params"] == pytest.approx(ref)
    as_dicts = [dict(zip(rows, vals)) for vals in zip(*rows.values())]
    assert kb.fit(as_dicts)["params"] == pytest.approx(ref)
    assert kb.fit(EPOCH)["n_points"] == 245  # a path
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        assert kb.fit(pd.DataFrame(as_arrays))["params"] == pytest.approx(ref)
    for bad in (42, "no-such-file.csv", [1, 2, 3], b"N,D"):
        with pytest.raises(KbError):
            kb.fit(bad)
    code = ("import sys, kb; assert 'numpy' not in sys.modules; f = kb.fit; "
            "assert callable(f) and 'scipy' not in sys.modules; from kb import fit; assert fit.read_csv")
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_data
def test_prediction_interval_comparison_and_bound_diagnostics():
    rows = epoch_rows()
    r = kbfit.fit(rows, "chinchilla", bootstrap=100, seed=3, predict={"N": 70e9, "D": 1.4e12},
                  compare={"law": "besiroglu", "constants": PUBLISHED},)
    pred = r["prediction"]
    f = forms.get("chinchilla").compiled()
    assert pred["value"] == pytest.approx(float(f({"N": 70e9, "D": 1.4e12, **r["params"]})))
    lo, hi = pred["interval"]
    assert lo < pred["value"] < hi and hi - lo < 0.2
    assert r["comparison"]["all_inside"] is True
    far = kbfit.fit(rows, "chinchilla", bootstrap=50, compare={"law": "x", "constants": {"alpha": 0.7, "E": 1.82}})
    assert far["comparison"]["constants"]["alpha"]["inside"] is False and far["comparison"]["all_inside"] is False
    # residual summary and the objective's name
    res = r["diagnostics"]["residuals"]
    assert 0 < res["median_abs"] <= res["rms"] <= res["max_abs"]
    assert "Huber" in r["objective_name"]
    # A and alpha move together along the valley: reported as not separately identified
    assert any(w.startswith("A and alpha are correlated") for w in r["warnings"])
    # a bound that binds in the bootstrap is said, with how many draws hit it
    tight = kbfit.fit(rows, "chinchilla", bootstrap=60, seed=1, bounds={"E": (1.8, 3.0)})
    assert "E" in tight["bootstrap"]["at_bound"]
    assert any(w.startswith("E: ") and "bootstrap draws" in w for w in tight["warnings"])


def test_many_rows_same_answer_as_all_rows_at_once():
    """The staged fit (subsamples for the grid, row blocks for the sums) lands on the optimum
    of the full objective: compare with the unstaged fit on the same 30,000 rows."""
    rng = np.random.default_rng(5)
    n = 30_000
    N = 10 ** rng.uniform(7, 10, n)
    D = 10 ** rng.uniform(9, 12, n)
    loss = (1.8 + 400 / N**0.34 + 2000 / D**0.37) * np.exp(rng.normal(0, 0.01, n))
    staged = kbfit.fit({"N": N, "D": D, "loss": loss}, "chinchilla")
    assert staged["starts"]["rows_per_stage"][-1] == n and len(staged["starts"]["rows_per_stage"]) > 1
    old = kbfit.GRID_ROWS, kbfit.CHUNK
    try:
        kbfit.GRID_ROWS, kbfit.CHUNK = 10 ** 9, 10 ** 9  # one stage, one block
        whole = kbfit.fit({"N": N, "D": D, "loss": loss}, "chinchilla")
    finally:
        kbfit.GRID_ROWS, kbfit.CHUNK = old
    assert staged["objective_value"] <= whole["objective_value"] * (1 + 1e-10)
    for k, v in whole["params"].items():
        assert staged["params"][k] == pytest.approx(v, rel=1e-4)


@pytest.mark.skipif(not GADRE.exists(), reason="shared/data is not next to the checkout")
def test_cli_fit_options_gadre(kb, tmp_path):
    t = gadre_c4_table1()
    path = tmp_path / "gadre_c4.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["params", "tokens", "loss"])
        w.writerows(zip(t["N"], t["D"], t["loss"]))
    r = kb("fit", path, "--objective", "mse", "--tie", "alpha=beta", "--json")
    assert r.code == 0, r.err
    res = r.json()
    assert round(res["params"]["alpha"] / 2, 3) == 0.121 and res["params"]["beta"] == res["params"]["alpha"]
    r = kb("fit", path, "--objective", "mse", "--fix", "alpha=0.24", "--tie", "alpha=beta",
           "--bounds", "E=0.5:3", "--starts", "4", "--predict", "N=1.4B,D=28B")
    assert r.code == 0, r.err
    assert "prediction at N=1.4e+09, D=2.8e+10:" in r.out and "objective: mean squared error" in r.out
    assert "residuals (predicted - observed)" in r.out
    for args, msg in [(["--fix", "alpha"], "--fix takes NAME=VALUE"),
                      (["--tie", "alpha=zeta"], "no parameter 'zeta'"),
                      (["--bounds", "E=3:1"], "lo < hi"),
                      (["--starts", "lots"], "--starts takes a count"),
                      (["--weights", "w"], "no column 'w'"),
                      (["--predict", "Q=1"], "--predict needs N, D"),
                      (["--compare", "nosuchlaw2020.x"], "nosuchlaw2020")]:
        r = kb("fit", path, *args)
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and msg in r.err, (args, r.err)


def test_cli_isik_forms_on_users_points(kb, tmp_path):
    """Isik et al. 2024 publish the forms, not the constants: fit your own (D_p, BLEU) points."""
    f = forms.get("isik-bleu")
    D = np.geomspace(1e8, 3e10, 12)
    bleu = f.compiled()({"D": D, "A": 0.05, "alpha": 0.3, "beta": 1.5})
    path = tmp_path / "bleu.csv"
    path.write_text("D_p,BLEU\n" + "".join(f"{d:.6g},{b:.8g}\n" for d, b in zip(D, bleu)))
    r = kb("fit", path, "--form", "isik-bleu", "--json")
    assert r.code == 0, r.err
    assert r.json()["params"]["beta"] == pytest.approx(1.5, rel=1e-3)
    ce = 0.9 + 50.0 / D**0.2
    path.write_text("D_p,loss\n" + "".join(f"{d:.6g},{v:.10g}\n" for d, v in zip(D, ce)))
    r = kb("fit", path, "--form", "isik-ce", "--json")
    assert r.code == 0, r.err
    assert r.json()["params"]["alpha"] == pytest.approx(0.2, rel=1e-3)


@needs_data
def test_cli_compare_with_published_law(kb):
    r = kb("fit", EPOCH, "--bootstrap", "60", "--compare", "hoffmann2022.approach3", "--json")
    assert r.code == 0, r.err
    comp = r.json()["comparison"]
    assert comp["law"] == "hoffmann2022.approach3"
    # Besiroglu et al.: Hoffmann's printed beta 0.28 is far outside the refit's interval
    assert comp["constants"]["beta"]["inside"] is False and comp["all_inside"] is False


@needs_data
def test_cli_html_report(kb, tmp_path):
    out = tmp_path / "fit.html"
    r = kb("fit", EPOCH, "--bootstrap", "40", "--predict", "N=70B,D=1.4T", "--compare", "hoffmann2022.approach3",
           "--html", out, "--json")
    assert r.code == 0, r.err
    page = out.read_text()
    # data and fit, observed/predicted against N and D, and observed against predicted
    assert page.count("<svg") == 4 and "data (245 points)" in page
    for text in ("Lack of fit", "Against hoffmann2022.approach3", "95% bootstrap interval", "Residuals (log(predicted / observed))"):
        assert text in page, text
    # each parameter with its interval; the published beta (0.28) is outside the refit's
    assert "<strong>outside</strong>" in page
    assert r.json()["html"] == str(out)
    # bad target: exit 2, one line, nothing written
    r = kb("fit", EPOCH, "--html", tmp_path / "no" / "such" / "dir.html")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()
    r = kb("fit", EPOCH, "--approach", "2", "--html", tmp_path / "a2.html")
    assert r.code == 2 and "Approach 3" in r.err and not (tmp_path / "a2.html").exists()


@pytest.mark.skipif(not GADRE.exists(), reason="shared/data is not next to the checkout")
def test_tied_weighted_fit_saves_as_a_valid_law():
    t = gadre_c4_table1()
    t["weight"] = [1.0, 2.0, 1.0, 1.0, 1.0]
    r = kbfit.fit(t, "chinchilla", objective="mse", tie={"alpha": "beta"}, bootstrap=20)
    doc = kbfit.to_law_document(r, "gadrecheck2026.tied")
    _, laws = load_document(doc, "fit", origin="user")
    law = laws[0]
    assert "tied to alpha" in law.constant("beta").note
    assert law.constant("beta").value == pytest.approx(law.constant("alpha").value, rel=1e-5)
    assert any("weighted" in n.text for n in law.notes)
