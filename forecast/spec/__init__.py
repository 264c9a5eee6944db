"""The scenario file: schema, validation and the resolved scenario."""

from forecast.spec.loader import load_scenario
from forecast.spec.scenario import EvidenceItem, Node, Question, Rule, Scenario

__all__ = ["EvidenceItem", "Node", "Question", "Rule", "Scenario", "load_scenario"]
