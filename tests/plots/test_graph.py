import itertools

import numpy as np
import pytest
from matplotlib.text import Text
from numpy.testing import assert_allclose

import forecast
from forecast.analysis.summaries import causal_edges, state_probabilities
from forecast.plots import layered_layout, plot_belief_graph, plot_causal_graph
from forecast.plots.checks import figure_problems, role_colours
from forecast.plots.style import MIN_FONT_PT, ROLE_COLOURS, role_of
from tests.paths import TESTS


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _by_gid(items, prefix):
    return {str(i.get_gid()): i for i in items if str(i.get_gid()).startswith(prefix)}


def _by_label(items, prefix):
    """Marks named by their label (their gid holds the meaning they are tagged with)."""
    return {i.get_label(): i for i in items if i.get_label().startswith(prefix)}


@pytest.mark.parametrize("name", ["kursk", "tiny"])
def test_layout_is_layered_and_has_no_overlaps(request, name):
    scenario = request.getfixturevalue(name)
    sizes = {n.name: (1.7, 0.7) for n in scenario.nodes}
    layout = layered_layout(scenario, sizes)
    layer = {item: k for k, items in enumerate(layout.layers) for item in items}
    for node in scenario.nodes:
        for parent, _ in node.parents:
            assert layer[parent] < layer[node.name]
            route = layout.routes[(parent, node.name)]
            assert_allclose(route[0][1], layout.box(parent)[1])  # leaves the bottom
            assert_allclose(route[-1][1], layout.box(node.name)[3])  # enters the top
    for a, b in itertools.combinations(scenario.nodes, 2):
        assert not _boxes_overlap(layout.box(a.name), layout.box(b.name))
    assert layered_layout(scenario, sizes) == layout  # fixed: no randomness


def test_long_edges_pass_beside_every_box(kursk):
    sizes = {n.name: (1.7, 0.7) for n in kursk.nodes}
    layout = layered_layout(kursk, sizes)
    for edge, slots in layout.dummies.items():
        for x, y in slots:
            for node in kursk.nodes:
                x0, y0, x1, y1 = layout.box(node.name)
                assert not (x0 < x < x1 and y0 <= y <= y1), (edge, node.name)
    assert len(layout.dummies[("occupation", "land_for_land")]) == 5


@pytest.fixture(scope="module")
def side_chain():
    return forecast.load_scenario(TESTS / "scenarios" / "side_chain.yaml")


def test_a_side_chain_sits_just_above_the_node_it_feeds(side_chain):
    """s1 -> s2 -> d has no parent above it: the chain moves down beside d's other parent
    instead of running slots down from the top layer."""
    sizes = {n.name: (1.7, 0.7) for n in side_chain.nodes}
    layout = layered_layout(side_chain, sizes)
    layer = {item: k for k, items in enumerate(layout.layers) for item in items}
    assert [layer[n] for n in "abcd"] == [0, 1, 2, 3]
    assert (layer["s1"], layer["s2"]) == (1, 2)
    assert not layout.dummies[("s1", "s2")]
    assert not layout.dummies[("s2", "d")]


def test_belief_graph_boxes_fit_the_longest_state_name(side_chain):
    from forecast.pymc_backend.fitting import ScenarioFitter

    prior = ScenarioFitter(side_chain).prior_draws(seed=1, size=20)
    fig = plot_belief_graph(prior, side_chain, "2024-03", group="prior")
    ax = fig.axes[0]
    fig.canvas.draw()
    boxes = _extents(fig, _by_gid(ax.patches, "node:").values())
    (label,) = _by_gid(ax.texts, "state_label:s1:a_state_name_longer_than_the_column").values()
    extent = label.get_window_extent(fig.canvas.get_renderer())
    assert boxes["node:s1"].x0 < extent.x0
    assert figure_problems(fig) == []


def _extents(fig, items):
    renderer = fig.canvas.get_renderer()
    return {str(i.get_gid()): i.get_window_extent(renderer) for i in items}


def test_causal_graph_labels_and_claims(kursk, claim_map):
    fig = plot_causal_graph(kursk, claim_map)
    ax = fig.axes[0]
    fig.canvas.draw()
    boxes = _by_gid(ax.patches, "node:")
    assert set(boxes) == {f"node:{n.name}" for n in kursk.nodes}
    names = _by_gid(ax.texts, "node_label:")
    for node in kursk.nodes:
        assert names[f"node_label:{node.name}"].get_text().replace("\n", " ") == node.label
    labels = {k.split(":", 1)[1]: t.get_text() for k, t in _by_gid(ax.texts, "edge_label:").items()}
    edges = causal_edges(kursk, claim_map)
    # an edge no claim of the article states (us_push -> talks) carries no label
    assert labels == {
        f"{r.parent}->{r.child}": ", ".join(r.claims) for r in edges.itertuples() if r.claims
    }
    arrows = _by_gid(ax.patches, "edge:")
    assert len(arrows) == len(edges)
    same_month = [a for gid, a in arrows.items() if gid.endswith("lag0")]
    next_month = [a for gid, a in arrows.items() if gid.endswith("lag1")]
    assert len(same_month) == 1 and len(next_month) == len(edges) - 1
    assert same_month[0].get_linestyle() != next_month[0].get_linestyle()
    assert same_month[0].get_edgecolor() != next_month[0].get_edgecolor()
    assert "occupation  [C1]" in [t.get_text() for t in ax.texts]


def test_causal_graph_has_no_overlapping_labels(kursk, claim_map):
    fig = plot_causal_graph(kursk, claim_map)
    ax = fig.axes[0]
    fig.canvas.draw()
    boxes = _extents(fig, _by_gid(ax.patches, "node:").values())
    labels = _extents(fig, _by_gid(ax.texts, "edge_label:").values())
    texts = _extents(fig, [t for t in ax.texts if str(t.get_gid()).startswith("node_")])
    for (_, a), (_, b) in itertools.combinations([*boxes.items(), *labels.items()], 2):
        assert not a.overlaps(b)
    for gid, extent in texts.items():
        box = boxes[f"node:{gid.split(':')[1]}"]
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1
        assert box.y0 <= extent.y0 and extent.y1 <= box.y1
    width, _ = fig.get_size_inches()
    assert width <= 12  # readable at notebook width


def test_belief_graph_bars(tiny, tiny_fits):
    idata = tiny_fits["all evidence"]
    fig = plot_belief_graph(idata, tiny, "2024-03")
    ax = fig.axes[0]
    bars = _by_label(ax.patches, "bar:")
    intervals = _by_label(ax.lines, "interval:")
    assert len(bars) == len(intervals) == sum(n.n_states for n in tiny.nodes)
    table = state_probabilities(idata, tiny, "2024-03")
    widths = {f"bar:{r.node}:{r.state}": r.mean for r in table.itertuples()}
    full = max(b.get_width() for b in bars.values()) / max(widths.values())
    for gid, bar in bars.items():
        assert_allclose(bar.get_width(), widths[gid] * full)
    for r in table.itertuples():
        xs = intervals[f"interval:{r.node}:{r.state}"].get_xdata()
        x0 = bars[f"bar:{r.node}:{r.state}"].get_x()
        assert_allclose(np.asarray(xs) - x0, [r.low * full, r.high * full])
    assert len(_by_label(ax.lines, "prior_mean:")) == len(bars)
    assert "2024-03" in _by_gid(ax.texts, "title")["title"].get_text()


def test_belief_graph_on_kursk_prior_has_no_overlaps(kursk, claim_map):
    from forecast.pymc_backend.fitting import ScenarioFitter

    prior = ScenarioFitter(kursk).prior_draws(seed=1, size=100)
    fig = plot_belief_graph(prior, kursk, "2025-03", claim_map, group="prior")
    ax = fig.axes[0]
    fig.canvas.draw()
    boxes = _extents(fig, _by_gid(ax.patches, "node:").values())
    labels = _extents(fig, _by_gid(ax.texts, "edge_label:").values())
    assert len(_by_label(ax.patches, "bar:")) == sum(n.n_states for n in kursk.nodes)
    assert figure_problems(fig) == []
    assert {role_of(b) for b in _by_label(ax.patches, "bar:").values()} == {"prior"}
    assert not _by_label(ax.lines, "prior_mean:")  # the prior is the bars themselves
    for (_, a), (_, b) in itertools.combinations([*boxes.items(), *labels.items()], 2):
        assert not a.overlaps(b)
    for text in ax.texts:
        gid = str(text.get_gid())
        if gid.startswith(("state_label:", "node_label:")):
            box = boxes[f"node:{gid.split(':')[1]}"]
            extent = text.get_window_extent(fig.canvas.get_renderer())
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1


@pytest.mark.parametrize("name", ["kursk", "tiny"])
def test_causal_graph_keeps_the_figure_rules(request, claim_map, name):
    scenario = request.getfixturevalue(name)
    fig = plot_causal_graph(scenario, claim_map if name == "kursk" else None)
    assert figure_problems(fig) == []
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text()) >= MIN_FONT_PT


def test_belief_graph_keeps_the_figure_rules_and_colours(tiny, tiny_fits):
    fig = plot_belief_graph(tiny_fits["all evidence"], tiny, "2024-03")
    ax = fig.axes[0]
    assert figure_problems(fig) == []
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text()) >= MIN_FONT_PT
    roles = {
        prefix: {role_of(a) for a in _by_label([*ax.patches, *ax.lines], prefix).values()}
        for prefix in ("bar:", "interval:", "prior_mean:")
    }
    assert roles == {"bar:": {"posterior"}, "interval:": {"ink"}, "prior_mean:": {"prior"}}
    colours = role_colours(fig)
    for role in ("posterior", "ink", "prior"):
        assert colours[role] == {ROLE_COLOURS[role].lower()}
