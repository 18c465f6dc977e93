"""Copy the dashboard's chart library from the npm registry into ``static/vendor`` (``make dashboard``).

    python -m prognos.dashboard.vendor [--check]

The package and version are pinned here; the files' sha256 go to ``static/vendor/VENDOR.json``, and
``--check`` verifies the copies in the tree against it (the test suite does), so what is served is what
was fetched. Needs ``npm`` only when refreshing, never at run time.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from prognos.dashboard import STATIC

PACKAGE, VERSION = "uplot", "1.6.32"
FILES = {
    "package/dist/uPlot.iife.min.js": "uPlot.iife.min.js",
    "package/dist/uPlot.min.css": "uPlot.min.css",
    "package/LICENSE": "uPlot.LICENSE",
}
VENDOR = STATIC / "vendor"


def fetch() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True, capture_output=True)
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            for member, name in FILES.items():
                data = tar.extractfile(member)
                assert data is not None, member
                (VENDOR / name).write_bytes(data.read())
    digests = {name: hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() for name in FILES.values()}
    (VENDOR / "VENDOR.json").write_text(
        json.dumps({"package": PACKAGE, "version": VERSION, "sha256": digests}, indent=1) + "\n"
    )
    return digests


def check() -> list[str]:
    """Files in the tree that differ from what VENDOR.json recorded (empty: all as fetched)."""
    record = json.loads((VENDOR / "VENDOR.json").read_text())
    return [
        name
        for name, digest in record["sha256"].items()
        if hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() != digest
    ]


if __name__ == "__main__":
    if "--check" in sys.argv:
        bad = check()
        print("vendored files match VENDOR.json" if not bad else f"changed: {', '.join(bad)}")
        sys.exit(1 if bad else 0)
    print(fetch())
