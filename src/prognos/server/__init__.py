"""The prognos server: one process, one HTTP API, wiring the stages together at the edge."""

from prognos.server.app import create_app

__all__ = ["create_app"]
