"""Scenarios: the schema of every key, loading and validating files, overrides, metrics and thresholds."""
