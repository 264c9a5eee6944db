"""The scenario: the file's schema, YAML with lines, cross-field checks, evidence, timeline."""

from forecast.scenario.loader import read_scenario, rebuild_scenario, scenario_from_dict
from forecast.scenario.validated import EvidenceItem, Node, Question, Rule, Scenario
from forecast.scenario.writing import TransitionEdit, save_in_place, save_variant

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
