"""Watching models in production: data drift (drift.py)."""
