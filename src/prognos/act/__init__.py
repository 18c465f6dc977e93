"""Decisions from predictions: alert rules (rules.py, rulesfile.py); alerts and actions build on them."""
