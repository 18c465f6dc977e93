"""Watching the fleet and its models in production: fleet.py (each device's status now), quality.py (alerts
against ground truth), retrain.py (challengers on drift or schedule)."""
