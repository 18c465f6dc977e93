"""prognos: IoT telemetry in, decisions out.

``import prognos`` is instant: it pulls no extras (no torch, duckdb or server library).
"""

__version__ = "0.1.0"
