"""The HTML report of a fit (`kb fit ... --html FILE`): the data and the fitted curves on log
axes, observed / predicted against each variable (lack of fit), the parameter table with its
intervals, diagnostics, and the comparison with a published law. Rendered with the packaged
Jinja environment (kb.render) and the SVG plots of kb.svgplot."""

import numpy as np

from . import forms as forms_mod

CURVES = 4  # fitted curves drawn for a two-variable form, at quantiles of the other variable


def _curve_env(form, params):
    env = dict(forms_mod.helper_env())
    env.update(params)
    return env


def plots(result: dict, data: dict) -> dict:
    from . import svgplot

    form = forms_mod.get(result["form"])
    f = form.compiled()
    env = _curve_env(form, result["params"])
    variables = list(form.variables)
    y = np.asarray(data[form.target], float)
    x_var = "D" if "D" in variables else variables[0]
    others = [v for v in variables if v != x_var]
    x = np.asarray(data[x_var], float)
    grid = np.geomspace(x.min(), x.max(), 60)
    series = [{"label": f"data ({len(y)} points)", "x": x.tolist(), "y": y.tolist(), "line": False}]
    with np.errstate(all="ignore"):
        if not others:
            series.append({"label": "fit", "x": grid.tolist(), "y": np.broadcast_to(f({**env, x_var: grid}), grid.shape).tolist(),
                           "markers": False})
        else:
            held = {v: np.asarray(data[v], float) for v in others}
            first = others[0]
            for q in np.linspace(0.1, 0.9, CURVES):
                at = {v: float(np.quantile(held[v], q)) for v in others}
                values = np.broadcast_to(f({**env, **at, x_var: grid}), grid.shape)
                series.append({"label": f"fit at {first} = {at[first]:.3g}" + (" (others at the same quantile)" if len(others) > 1 else ""),
                               "x": grid.tolist(), "y": values.tolist(), "markers": False})
        pred = np.broadcast_to(f({**env, **{v: np.asarray(data[v], float) for v in variables}}), y.shape)
    out = {"plot_fit": svgplot.loglog(series, f"{form.target} against {x_var}: data and fit", x_var, form.target)}
    ratio = y / pred
    for v in variables:
        out[f"plot_residual_{v}"] = svgplot.loglog(
            [{"label": "observed / predicted", "x": np.asarray(data[v], float).tolist(), "y": ratio.tolist(), "line": False}],
            f"observed / predicted against {v}", v, "observed / predicted")
    out["plot_parity"] = svgplot.loglog(
        [{"label": "runs", "x": pred.tolist(), "y": y.tolist(), "line": False},
         {"label": "observed = predicted", "x": [float(np.nanmin(pred)), float(np.nanmax(pred))],
          "y": [float(np.nanmin(pred)), float(np.nanmax(pred))], "markers": False}],
        "observed against predicted", "predicted", "observed")
    return out


def document(result: dict, data: dict, template_dir=None) -> str:
    from markupsafe import Markup

    from . import __version__, render

    form = forms_mod.get(result["form"])
    context = dict(result=result, form=form, title=f"Fit of {result.get('file') or 'data'}: {form.title}",
                   version=__version__)
    context["plots"] = {k: Markup(v) for k, v in plots(result, data).items() if v}
    return render.render("fit.html.j2", "html", template_dir, **context)


def document_for_file(result: dict, path, columns=None, weights=None, template_dir=None) -> str:
    """The report of a fit of a CSV file (the points are read again: a result carries none)."""
    from . import fit as fit_mod
    from .errors import KbError

    if result.get("approach") != 3:
        raise KbError("--html reports a parametric (Approach 3) fit; Approach 2 has no fitted surface to draw")
    form = forms_mod.get(result["form"])
    cols = dict(columns or {})
    if isinstance(weights, str):
        cols["weight"] = weights
    data, _, _ = fit_mod.resolve(fit_mod.read_csv(path), form.variables, form.target, cols, str(path))
    return document(result, data, template_dir)
