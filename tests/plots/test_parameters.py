from numpy.testing import assert_allclose

from forecast.analysis.summaries import rule_parameter_table
from forecast.plots import plot_prior_posterior
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.style import MAX_WIDTH_IN, ROLE_COLOURS, role_of

ROLES = {"as of 2024-01-31": "as_of", "all evidence": "posterior"}


def _intervals(fig):
    return {
        line.get_label(): line
        for ax in fig.axes
        for line in ax.get_lines()
        if line.get_label().count(":") >= 2
    }


def test_intervals_per_parameter_and_fit(tiny, tiny_fits):
    fig = plot_prior_posterior(tiny_fits, tiny)
    lines = _intervals(fig)
    n_params = sum(len(r.destinations) for r in tiny.rules)
    assert len(lines) == n_params * (1 + len(tiny_fits))
    for label, idata in tiny_fits.items():
        table = rule_parameter_table(idata, tiny)
        for row in table.itertuples():
            line = lines[f"{label}:{row.rule}:{row.destination}"]
            assert_allclose(line.get_xdata(), [row.posterior_low, row.posterior_high])
            assert role_of(line) == ROLES[label]
            assert line.get_color() == ROLE_COLOURS[ROLES[label]]
            prior = lines[f"prior:{row.rule}:{row.destination}"]
            assert_allclose(prior.get_xdata(), [row.prior_low, row.prior_high])
            assert role_of(prior) == "prior" and prior.get_color() == ROLE_COLOURS["prior"]
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    table = rule_parameter_table(tiny_fits["all evidence"], tiny)
    # each row's label: the rule id (on one or more lines), then destination and months
    assert ["".join(t.splitlines()[:-1]) for t in ticks] == list(table["rule"])
    assert [t.splitlines()[-1] for t in ticks] == [
        f"\N{RIGHTWARDS ARROW} {r.destination} within {r.within_months} mo"
        for r in table.itertuples()
    ]
    panels = [ax.get_title(loc="left") for ax in fig.axes]
    assert panels == [f"{n.label} ({n.name})" for n in tiny.nodes]
    assert fig.axes[-1].get_xscale() == "logit"
    assert "interval" in fig.axes[-1].get_xlabel()


def test_figure_keeps_the_rules_at_1000_px(tiny, tiny_fits):
    fig = plot_prior_posterior(tiny_fits, tiny)
    assert figure_problems(fig) == []
    assert fig.get_figwidth() <= MAX_WIDTH_IN
    assert role_colours(fig) == {
        role: {ROLE_COLOURS[role].lower()} for role in ("prior", "as_of", "posterior")
    }
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["prior", "posterior, as of 2024-01-31", "posterior, all evidence"]
    assert "evidence as of 2024-01-31, all evidence" in fig.get_suptitle()


def test_single_fit(tiny, tiny_fits):
    fig = plot_prior_posterior(tiny_fits["all evidence"], tiny)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["prior", "posterior"]
    assert figure_problems(fig) == []
