"""Evidence sources with a reliability: each becomes a report node the engine treats as any.

A source declared under ``sources:`` reports the state of one node (``reports_on``), right
with probability ``reliability`` and otherwise any other state equally likely. It is modelled
exactly as a memoryless child of that node whose table is P(report | true state): one free
rule per true state, its prior the stated reliability (a wrong state gets an equal share of
the rest), learnt in the fit like every rule. Reports that name the source are evidence on
that child, so several sources may report the same node-month and disagree; evidence without
a source stays the truth. The report nodes add one axis each to the joint (as many states as
the node), pinned to the report in the months it reports.
"""

from __future__ import annotations

from forecast.scenario.schema import Judgement, NodeSpec, ScenarioSpec, SourceSpec, TransitionRule
from forecast.scenario.semantics import Checker


def report_rule_id(source: str, state: str) -> str:
    """Id of the rule of ``source``'s reports when the true state is ``state``."""
    return f"{source}_when_{state}"


def _wrong_share(source: SourceSpec, n_states: int) -> Judgement:
    """The judgement of one wrong state: an equal share of ``1 - reliability``."""
    judged = source.reliability
    assert judged.best is not None and judged.interval is not None  # checked by the schema
    lo, hi = judged.interval
    share = n_states - 1
    return Judgement(
        best=(1.0 - judged.best) / share,
        interval=((1.0 - hi) / share, (1.0 - lo) / share),
        credibility=judged.credibility,
    )


def report_node(name: str, source: SourceSpec, node: NodeSpec) -> NodeSpec:
    """The report node of source ``name``: a memoryless child of the node it reports on."""
    states = list(node.states)
    wrong = _wrong_share(source, len(states))
    rules = [
        TransitionRule(
            given={source.reports_on: state},
            to={other: wrong for other in states if other != state},
            rationale=f"{source.rationale} (from sources.{name}.reliability)",
            id=report_rule_id(name, state),
        )
        for state in states
    ]
    return NodeSpec(
        label=source.label or f"{name}'s report of {source.reports_on}",
        description=(
            f"What {source.label or name} reports of '{source.reports_on}' in the month: "
            f"its true state with the source's reliability ({source.reliability.best:g} "
            "as stated), else another state."
        ),
        states=dict(node.states),
        parents={source.reports_on: 0},
        initial=states[0],
        transitions=rules,
    )


def with_sources(check: Checker, spec: ScenarioSpec) -> ScenarioSpec | None:
    """The scenario with every declared source's report node among its nodes.

    Problems (an unknown node, a source named as a node or as a parent, a reliability no
    better than chance) are added to ``check``; None is returned then.
    """
    if not spec.sources:
        return spec
    ok = True
    added: dict[str, NodeSpec] = {}
    for name, source in spec.sources.items():
        path = ("sources", name)
        if name in spec.nodes:
            check.add(
                path,
                f"source '{name}' has the name of a node",
                "a source name that no node has (its reports become a node of that name)",
            )
            ok = False
            continue
        node = spec.nodes.get(source.reports_on)
        if node is None:
            check.add(
                (*path, "reports_on"),
                f"unknown node '{source.reports_on}'",
                f"one of the nodes: {', '.join(spec.nodes)}",
            )
            ok = False
            continue
        chance = 1.0 / len(node.states)
        assert source.reliability.best is not None  # the schema refuses beta for a source
        if source.reliability.best <= chance:
            check.add(
                (*path, "reliability", "best"),
                f"a reliability of {source.reliability.best:g} is no better than chance "
                f"({chance:.3g} for the {len(node.states)} states of '{source.reports_on}')",
                f"a best guess above {chance:.3g}: a source right no more often than chance "
                "carries no information (leave its reports out instead)",
            )
            ok = False
            continue
        added[name] = report_node(name, source, node)
    for name, node in spec.nodes.items():
        for parent in node.parents:
            if parent in spec.sources:
                check.add(
                    ("nodes", name, "parents", parent),
                    f"'{parent}' is an evidence source, not a cause",
                    "parents among the nodes (a source's reports inform the node it reports "
                    "on, and nothing else)",
                )
                ok = False
    if not ok:
        return None
    return spec.model_copy(update={"nodes": {**spec.nodes, **added}})
