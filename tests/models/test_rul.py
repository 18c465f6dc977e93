"""The remaining-life network: quantiles that never cross and never go below zero, in PyTorch and in ONNX."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch

from prognos.models.rul import Ensemble, RULNet
from prognos.train.estimators import RULRegressor
from tests.train.estimators.test_conformance import rul_data


def test_remaining_life_is_never_negative_once_trained_but_the_loss_sees_below_zero():
    x = torch.randn(16, 20, 4)
    for net in (RULNet(4, 20, hidden=8), Ensemble([RULNet(4, 20, hidden=8), RULNet(4, 20, hidden=8)])):
        for member in getattr(net, "members", [net]):
            member.head[-1].bias.data.fill_(-5.0)  # a network that overshoots the end of life
        net.train()
        assert (net(x) < 0).any()  # the loss sees the overshoot and can pull it back
        net.eval()
        with torch.no_grad():
            q = net(x)
        assert (q >= 0).all() and (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all()


def test_the_exported_graph_stops_at_zero_too(tmp_path):
    x, y, xv, yv = rul_data(0)
    model = RULRegressor(scales=(3, 6), hidden=16, epochs=1).fit(x, y, xv, yv)
    model.net_.head[-1].bias.data.fill_(-50.0)
    path = model.to_onnx(tmp_path / "rul.onnx", x[:8])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (q,) = session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})
    assert q.min() == 0.0 and np.allclose(q, model.predict(x), atol=1e-4)
