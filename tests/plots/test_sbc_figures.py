"""The SBC figures, read from their artists: width, fonts, colours by meaning."""

import struct

import numpy as np
import pandas as pd
import pytest

from forecast.analysis.evaluation.sbc import SBCReport, SBCSettings, uniformity_tests
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.sbc import FAIL_COLOUR, PASS_COLOUR, plot_sbc, save_sbc_plots
from forecast.plots.style import MAX_WIDTH_PX, ROLE_COLOURS


@pytest.fixture(scope="module")
def report():
    """Six quantities over 120 replications: five uniform ranks, one piled at the top."""
    rng = np.random.default_rng(0)
    settings = SBCSettings(thin_to=99)
    names = [f"escalation:none[occupation=substantial|foothold,pressure=q{k}]" for k in range(5)]
    ranks = pd.DataFrame({name: rng.integers(0, 100, 120) for name in names})
    ranks["question_prob[talks_by_2025_12]"] = rng.integers(90, 100, 120)
    tests = uniformity_tests(ranks, settings.thin_to + 1)
    return SBCReport("kursk_2024", settings, 0, ranks, tests, pd.DataFrame(), 120)


def test_sbc_figures_keep_the_rules(report):
    for fig in plot_sbc(report):
        assert figure_problems(fig) == []
        assert fig.get_figwidth() * fig.dpi <= MAX_WIDTH_PX
        colours = role_colours(fig)
        assert colours["posterior"] == {PASS_COLOUR.lower()}
        assert colours["category:fail"] == {FAIL_COLOUR.lower()}
        assert colours["guide"] == {ROLE_COLOURS["guide"].lower()}
        titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]
        assert sum("(FAIL)" in t for t in titles) == 1
        assert all(max(len(line) for line in t.splitlines()) <= 34 for t in titles)


def test_saved_pngs_are_under_1000_px(report, tmp_path):
    for path in save_sbc_plots(report, tmp_path / "sbc_ranks.png"):
        width = struct.unpack(">II", path.read_bytes()[16:24])[0]
        assert width <= MAX_WIDTH_PX
