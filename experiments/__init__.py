"""What users do with the model: sweeps, comparisons, sensitivity, the CLI."""
