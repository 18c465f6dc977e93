"""The web UI: static files the prognos server serves at ``/``; everything it shows comes from the public API.

``static/`` holds the pages (plain ES modules, no build needed to run them) and ``static/vendor/`` the one
library they use, uPlot (MIT), copied there from the npm registry by ``make dashboard`` (`vendor.py`) with its
version and checksum recorded in ``static/vendor/VENDOR.json``: nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
