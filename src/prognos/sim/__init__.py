"""The fleet simulator: synthetic devices with known faults and failures, and where to send them."""

from prognos.sim.fleet import FAULTS, TYPES, Fleet

__all__ = ["FAULTS", "TYPES", "Fleet"]
