"""The world and its rules: the Mesa model, trade graph, export controls, market
clearing, technology, scenarios, reporters and the default world data."""

from model.model import ChipMarketModel
from model.scenario import ScenarioError, list_scenarios, load_scenario

__all__ = ["ChipMarketModel", "ScenarioError", "list_scenarios", "load_scenario"]
