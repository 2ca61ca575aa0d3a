"""The world and its rules: the Mesa model, trade graph, export controls, market
clearing, technology, scenarios, reporters and the default world data."""

from model.scenario import ScenarioError, list_scenarios, load_scenario

__all__ = ["ChipMarketModel", "ScenarioError", "list_scenarios", "load_scenario"]


def __getattr__(name: str):
    # Imported on first use: agents import model.technology, and model.model imports
    # the agents, so an eager import here would make `import agents` circular.
    if name == "ChipMarketModel":
        from model.model import ChipMarketModel

        return ChipMarketModel
    raise AttributeError(f"module 'model' has no attribute {name!r}")
