"""The prior editor's outcome figure: the quantities and colours of the outcome figures."""

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose

import forecast
from forecast.jupyter.curves import OutcomeFigure
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.outcomes import QUANTITY_LABELS
from forecast.plots.style import FIGURE_DPI, ROLE_COLOURS
from tests.conftest import AS_OF

SMALL = {"draws": 200, "tune": 200, "chains": 2, "cores": 1}


@pytest.fixture(scope="module")
def editor_fits(tiny):
    model = forecast.ScenarioModel(tiny)
    fit = model.fit(as_of=AS_OF, seed=4, sampler=SMALL)
    return model, fit


def test_editor_figure_plots_what_the_outcome_figures_plot(tiny, editor_fits):
    _, fit = editor_fits
    figure = OutcomeFigure(fit)
    fig = figure.draw(fit)
    assert figure_problems(fig) == []
    assert fig.get_figwidth() * FIGURE_DPI <= 560  # the editor's figure column
    curves = fit.outcomes(max_draws=400)
    for spec in tiny.outcomes:
        ax = figure.axes[spec.id]
        assert ax.get_ylabel().replace("\n", " ") == QUANTITY_LABELS[spec.kind]
        drawn = figure._lines[spec.id].get_ydata()
        assert_allclose(drawn, curves[curves["outcome"] == spec.id]["mean"])
        if spec.kind == "in_state":
            marginal = fit.idata.posterior[f"p_{spec.node}"].sel({f"{spec.node}_state": spec.state})
            assert_allclose(drawn, marginal.mean(("chain", "draw")).values)
        else:
            assert np.all(np.diff(drawn) >= -1e-12)  # cumulative: never falls
    colours = role_colours(fig)
    assert colours["as_of"] == {ROLE_COLOURS["as_of"].lower()}  # the fit has a cut-off
    assert colours["ink"] == {ROLE_COLOURS["ink"].lower()}
    assert "evidence as of 2024-01-31" in fig.get_suptitle()


def test_editor_figure_notes_a_short_y_range(tiny, editor_fits):
    _, fit = editor_fits
    figure = OutcomeFigure(fit)
    figure.draw(fit)
    for outcome, ax in figure.axes.items():
        top = ax.get_ylim()[1]
        note = figure._notes[outcome].get_text()
        assert note == ("" if top >= 1 else f"y-axis 0\N{EN DASH}{top:g} of 0\N{EN DASH}1")
        assert max(figure._bands[outcome].get_paths()[0].vertices[:, 1]) <= top


def test_editor_png_is_at_most_560_px(editor_fits):
    from PIL import Image

    _, fit = editor_fits
    image = Image.open(io.BytesIO(OutcomeFigure(fit).png(fit)))
    assert image.size[0] <= 560
