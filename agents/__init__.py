"""The agents: one module per type. They decide; the model resolves."""

from agents.fabless import FablessFirm
from agents.foundry import Foundry
from agents.government import Government
from agents.vendor import EquipmentVendor

__all__ = ["EquipmentVendor", "FablessFirm", "Foundry", "Government"]
