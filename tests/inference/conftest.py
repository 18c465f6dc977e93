from __future__ import annotations

import pytest

from prognos.registry import Registry
from prognos.store import open_store
from tests.test_registry import artifact


@pytest.fixture
def registry(tmp_path):
    """A registry over the in-memory store with ``pump-anomaly`` v1 (y = 2x) and v2 (y = 3x), v1 champion."""
    store = open_store("memory://")
    reg = Registry(store, tmp_path / "models")
    reg.publish(artifact(tmp_path / "a1", scale=2.0))
    reg.publish(artifact(tmp_path / "a2", scale=3.0))
    reg.promote("pump-anomaly", 1)
    yield reg
    store.close()


def tamper(reg: Registry, version: int) -> None:
    """Flip bytes in a published ONNX file, as a bad disk or a careless hand would."""
    path = reg.root / "pump-anomaly" / str(version) / "model.onnx"
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-8:] = b"\x00" * 8
    path.write_bytes(bytes(data))
