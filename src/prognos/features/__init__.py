"""Series → model-ready windows: pure functions and fitted transforms, shared by training and serving."""

from prognos.features.drift import Drift, reference
from prognos.features.scaling import RegimeScaler
from prognos.features.splits import by_unit
from prognos.features.stream import Windower
from prognos.features.summaries import summaries
from prognos.features.targets import rul
from prognos.features.windows import last_window, sliding, window_ends

__all__ = [
    "Drift",
    "RegimeScaler",
    "Windower",
    "by_unit",
    "last_window",
    "reference",
    "rul",
    "sliding",
    "summaries",
    "window_ends",
]
