"""Real-time scoring of the incoming stream (scorer.py)."""
