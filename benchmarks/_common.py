"""Shared by the benchmarks: the same real services and server process the tests use."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services import Mosquitto, ensure_postgres, free_port, pg_schema
from tests.services import ServerProcess as Server

__all__ = ["Mosquitto", "Server", "ensure_postgres", "free_port", "pg_schema"]
