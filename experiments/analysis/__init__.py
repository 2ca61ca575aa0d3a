"""Analysis of finished results: paired differences (`paired`), SALib sensitivity
indices (`sensitivity`) and the figures (`figures`). Nothing here runs the model (an
import-linter contract in setup.cfg forbids importing its engine)."""
