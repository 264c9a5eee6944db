"""The scenario: the file's schema, YAML with lines, cross-field checks, evidence, timeline."""

from forecast.scenario.loader import read_scenario, rebuild_scenario, scenario_from_dict
from forecast.scenario.validated import EvidenceItem, Node, Question, Rule, Scenario

_WRITING = ("TransitionEdit", "save_in_place", "save_variant")


def __getattr__(name: str):
    # the writer needs ruamel.yaml, loaded only when something is saved
    if name in _WRITING:
        from forecast.scenario import writing

        return getattr(writing, name)
    raise AttributeError(f"module 'forecast.scenario' has no attribute {name!r}")


__all__ = [
    "EvidenceItem",
    "Node",
    "Question",
    "Rule",
    "Scenario",
    "TransitionEdit",
    "read_scenario",
    "rebuild_scenario",
    "save_in_place",
    "save_variant",
    "scenario_from_dict",
]
