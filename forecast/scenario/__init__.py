"""The scenario: the file's schema, YAML with lines, cross-field checks, evidence, timeline."""

from forecast.scenario.loader import read_scenario, rebuild_scenario, scenario_from_dict
from forecast.scenario.validated import EvidenceItem, Node, Question, Rule, Scenario

__all__ = [
    "EvidenceItem",
    "Node",
    "Question",
    "Rule",
    "Scenario",
    "read_scenario",
    "rebuild_scenario",
    "scenario_from_dict",
]
