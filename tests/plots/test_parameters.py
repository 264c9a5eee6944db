from numpy.testing import assert_allclose

from forecast.analysis.summaries import rule_parameter_table
from forecast.plots import FIT_COLOURS, PALETTE, plot_prior_posterior


def test_intervals_per_parameter_and_fit(tiny, tiny_fits):
    fig = plot_prior_posterior(tiny_fits, tiny)
    lines = {
        str(line.get_gid()): line for ax in fig.axes for line in ax.get_lines() if line.get_gid()
    }
    n_params = sum(len(r.destinations) for r in tiny.rules)
    assert len(lines) == n_params * (1 + len(tiny_fits))
    for k, (label, idata) in enumerate(tiny_fits.items()):
        table = rule_parameter_table(idata, tiny)
        for row in table.itertuples():
            line = lines[f"{label}:{row.rule}:{row.destination}"]
            assert_allclose(line.get_xdata(), [row.posterior_low, row.posterior_high])
            assert line.get_color() == FIT_COLOURS[k]
            prior = lines[f"prior:{row.rule}:{row.destination}"]
            assert prior.get_color() == PALETTE["prior"]
    ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    table = rule_parameter_table(tiny_fits["all evidence"], tiny)
    assert [t.splitlines()[-1] for t in ticks] == list(table["rule"])  # each row's rule id
    assert all(t.startswith(c) for t, c in zip(ticks, table["condition"], strict=True))
    panels = [ax.get_title(loc="left") for ax in fig.axes]
    assert panels == [f"{n.label} ({n.name})" for n in tiny.nodes]
    assert fig.axes[-1].get_xscale() == "logit"
    assert "interval" in fig.axes[-1].get_xlabel()


def test_single_fit(tiny, tiny_fits):
    fig = plot_prior_posterior(tiny_fits["all evidence"], tiny)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["prior", "posterior, posterior"] or labels[0] == "prior"
