"""Triton's own HTTP client, unchanged, against prognos: JSON and binary tensors, metadata, repository."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.server.conftest import serving
from tests.server.test_oip import two_versions


@pytest.fixture
def client(tmp_path):
    with serving(tmp_path, two_versions(tmp_path)) as server:
        c = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
        yield c
        c.close()


@pytest.mark.parametrize("binary", [True, False])
def test_round_trip(client, binary):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("pump-anomaly") and client.is_model_ready("pump-anomaly", "2")
    meta = client.get_model_metadata("pump-anomaly")
    assert meta["inputs"][0]["shape"] == [-1, 4, 3] and meta["outputs"][0]["name"] == "score"
    x = np.random.default_rng(0).standard_normal((5, 4, 3)).astype(np.float32)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = httpclient.InferRequestedOutput("score", binary_data=binary)
    result = client.infer("pump-anomaly", [inp], outputs=[out], request_id="t-1")
    np.testing.assert_allclose(result.as_numpy("score"), 2 * x, rtol=1e-6)
    assert result.get_response()["model_version"] == "1" and result.get_response()["id"] == "t-1"
    again = client.infer("pump-anomaly", [inp], model_version="2")  # default outputs: all of them
    np.testing.assert_allclose(again.as_numpy("score"), 3 * x, rtol=1e-6)


def test_repository_and_errors(client):
    index = client.get_model_repository_index()
    assert index[0]["name"] == "pump-anomaly" and index[0]["state"] == "READY"
    client.unload_model("pump-anomaly")
    assert not client.is_model_ready("pump-anomaly")
    client.load_model("pump-anomaly")
    assert client.is_model_ready("pump-anomaly")
    inp = httpclient.InferInput("input", [1, 4, 2], "FP32")
    inp.set_data_from_numpy(np.ones((1, 4, 2), np.float32))
    with pytest.raises(InferenceServerException, match=r"shape \[1, 4, 2\], expected \[-1, 4, 3\]"):
        client.infer("pump-anomaly", [inp])
    with pytest.raises(InferenceServerException, match="model 'nope' not found"):
        client.infer("nope", [inp])
    assert client.get_server_metadata()["name"] == "prognos"
