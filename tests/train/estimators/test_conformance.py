"""Checks every estimator must pass, generated for each one found in `prognos.train.estimators` (River's
check_estimator, in small): baselines too.

The constructor stores; input not mutated; outputs finite and of the documented shape; seeded runs reproducible;
the ONNX export of the deep ones reproduces PyTorch within 1e-4 on held-out windows; bad input is refused clearly.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

from prognos.errors import InvalidInput
from prognos.train import estimators, loop
from prognos.train.estimators import Deep, GradientBoostingRUL, RULRegressor
from prognos.train.export import PARITY_TOLERANCE, parity


def rul_data(seed: int = 0):
    """Tiny run-to-failure windows: a sensor that drifts as life runs out, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 125, 400)
    x = rng.normal(0, 0.3, (400, 12, 4))
    x[:, :, 0] += (125 - y)[:, None] / 40 + np.linspace(0, 0.2, 12)
    return x[:300], y[:300], x[300:], y[300:]


def normal_data(seed: int = 0):
    """Normal windows of 3 correlated sensors (a shared sine plus noise); y is unused by detectors."""
    rng = np.random.default_rng(seed)
    t = np.arange(600 + 15) / 8.0
    base = np.sin(t)
    series = np.stack([base, 0.5 * base, -base], axis=1) + rng.normal(0, 0.05, (len(t), 3))
    w = np.lib.stride_tricks.sliding_window_view(series, 16, axis=0).transpose(0, 2, 1).copy()
    return w[:450], np.zeros(450), w[450:], np.zeros(len(w) - 450)


def class_data(seed: int = 0):
    """Three device states that differ in level and in oscillation."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 360)
    x = rng.normal(0, 0.3, (360, 10, 3))
    x[:, :, 0] += (y == 1)[:, None] * 1.5
    x[:, :, 1] += (y == 2)[:, None] * np.sin(np.arange(10) * 2.0)
    return x[:270], y[:270], x[270:], y[270:]


DATA = {"rul": rul_data, "anomaly": normal_data, "classify": class_data}
QUICK = {  # small and short: these check the contract, not the quality
    "AutoencoderDetector": {"channels": 8, "kernel": 3, "epochs": 5},
    "DeepClassifier": {"channels": 8, "kernel": 3, "hidden": 16, "epochs": 6},
    "RULRegressor": {"scales": (3, 6), "hidden": 16, "epochs": 6},
    "GradientBoostingRUL": {"max_iter": 30},
}


def discovered() -> list[type]:
    """Every estimator defined in `prognos.train.estimators`: a concrete class under a family's base."""
    found = set()
    for info in pkgutil.iter_modules(estimators.__path__):
        module = importlib.import_module(f"{estimators.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            bases = estimators.FAMILIES.values()
            if cls.__module__ == module.__name__ and cls not in bases and issubclass(cls, tuple(bases)):
                found.add(cls)
    return sorted(found, key=lambda c: c.__name__)


def family(cls: type) -> str:
    return next(name for name, base in estimators.FAMILIES.items() if issubclass(cls, base))


def maker(cls: type):
    """``make(seed)``: the estimator at its quick settings, seeded where it takes a seed."""
    seeded = "seed" in inspect.signature(cls).parameters
    return lambda seed: cls(**QUICK.get(cls.__name__, {}), **({"seed": seed} if seeded else {}))


def output(model, x):
    """What the exported graph computes: probabilities for classifiers, ``predict`` for the rest."""
    return model.predict_proba(x) if hasattr(model, "predict_proba") else model.predict(x)


@pytest.fixture(params=discovered(), ids=lambda c: c.__name__, scope="module")
def fitted(request):
    cls = request.param
    data = DATA[family(cls)]()
    return cls, maker(cls), data, maker(cls)(0).fit(*data)


def test_every_estimator_of_every_family_is_discovered():
    names = {c.__name__ for c in discovered()}
    assert {"AutoencoderDetector", "PCADetector", "DeepClassifier", "LogisticClassifier", "RULRegressor"} <= names
    assert "GradientBoostingRUL" in names and {family(c) for c in discovered()} == set(estimators.FAMILIES)


def test_the_constructor_stores_and_fit_returns_self_with_learned_state_ending_in_underscore(fitted):
    cls, make, data, _ = fitted
    fresh = make(0)
    assert not [k for k in vars(fresh) if k.endswith("_")]
    assert set(fresh.get_params()) == set(inspect.signature(cls).parameters)  # every hyper-parameter, nothing else
    assert fresh.fit(*data) is fresh and [k for k in vars(fresh) if k.endswith("_")]


def test_input_is_not_mutated(fitted):
    _, make, data, _ = fitted
    copies = [a.copy() for a in data]
    make(0).fit(*data).predict(data[2])
    assert all(np.array_equal(a, b) for a, b in zip(data, copies, strict=True))


def test_outputs_are_finite_and_shaped(fitted):
    _, _, (_, _, xv, _), model = fitted
    out = output(model, xv)
    assert out.shape == (len(xv), 3) and np.isfinite(out).all()  # 3 sensors, 3 classes or 3 quantiles


def test_seeded_runs_are_reproducible(fitted):
    _, make, data, _ = fitted
    assert np.array_equal(output(make(3).fit(*data), data[2]), output(make(3).fit(*data), data[2]))


@pytest.mark.parametrize("cls", [c for c in discovered() if issubclass(c, Deep)], ids=lambda c: c.__name__)
def test_onnx_reproduces_pytorch_on_held_out_windows(cls, tmp_path):
    x, y, xv, yv = DATA[family(cls)]()
    model = maker(cls)(0).fit(x, y, xv, yv)
    path = model.to_onnx(tmp_path / "m.onnx", x)
    assert parity(model.net_, path, xv) <= PARITY_TOLERANCE


def test_bad_input_is_refused_with_the_field(fitted):
    _, make, (x, y, xv, yv), model = fitted
    with pytest.raises(InvalidInput, match="shape"):
        model.predict(xv[:, :, 0])
    bad = xv.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        model.predict(bad)
    with pytest.raises(InvalidInput, match="length"):
        make(0).fit(x, y[:-1], xv, yv)


def test_rul_quantiles_are_ordered_and_the_model_learns():
    x, y, xv, yv = rul_data(1)
    q = RULRegressor(scales=(3, 6), hidden=16, epochs=40, batch=32, seed=0).fit(x, y, xv, yv).predict(xv)
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all()
    assert np.sqrt(np.mean((q[:, 1] - yv) ** 2)) < 0.6 * yv.std()  # far better than predicting the mean


def test_gradient_boosting_baseline_learns_on_the_same_windows():
    x, y, xv, yv = rul_data(2)
    q = GradientBoostingRUL(max_iter=50).fit(x, y).predict(xv)
    assert q.shape == (len(xv), 3) and np.sqrt(np.mean((q[:, 1] - yv) ** 2)) < 0.6 * yv.std()


def test_rul_folds_make_one_ensemble_graph_from_held_out_units(tmp_path):
    import onnxruntime as ort

    x, y, xv, yv = rul_data(3)
    groups = np.repeat(np.arange(10), 30)  # ten "units" of 30 windows
    model = RULRegressor(scales=(3, 6), hidden=16, epochs=4, folds=3, seed=0).fit(x, y, groups=groups)
    assert len(model.net_.members) == 3 and len(model.history_) == 3
    q = model.predict(xv)
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all()
    assert float(model.net_.widen) >= 0 and np.mean((q[:, 0] <= yv) & (yv <= q[:, 2])) >= 0.65  # calibrated on folds
    members = np.mean([loop_predict(m, xv) for m in model.net_.members], axis=0) * model.cap
    assert np.allclose(q[:, 1], members[:, 1], atol=1e-4)  # the centre is the mean of the members'
    widen = float(model.net_.widen) * model.cap  # the interval widened by it each side, and stopped at zero
    assert np.allclose(q[:, 0], np.maximum(members[:, 0] - widen, 0), atol=1e-4) and (q[:, 0] >= 0).all()
    assert np.allclose(q[:, 2], members[:, 2] + widen, atol=1e-4)
    path = model.to_onnx(tmp_path / "m.onnx", x)
    got = ort.InferenceSession(str(path)).run(None, {"x": xv.astype(np.float32)})[0]
    assert np.abs(got * model.cap - q).max() < 1e-2
    with pytest.raises(InvalidInput, match="groups"):
        RULRegressor(folds=3).fit(x, y)
    with pytest.raises(InvalidInput, match="2 units cannot make 3 folds"):
        RULRegressor(folds=3).fit(x, y, groups=np.repeat([0, 1], 150))


def test_the_interval_is_calibrated_on_the_declining_part_of_life():
    rng = np.random.default_rng(5)
    y = np.minimum(rng.uniform(0, 250, 300), 125)  # half the windows on the flat part of the target
    x = rng.normal(0, 0.3, (300, 12, 4))
    x[:, :, 0] += (125 - y)[:, None] / 40
    groups = np.repeat(np.arange(10), 30)
    model = RULRegressor(scales=(3, 6), hidden=16, epochs=2, folds=3, seed=0).fit(x, y, groups=groups)
    widen = float(model.net_.widen)
    scores, targets = [], []
    for member, held in zip(model.net_.members, model._folds(x, groups), strict=True):
        q, t = loop_predict(member, x[held]), y[held] / model.cap
        scores.append(np.maximum(q[:, 0] - t, t - q[:, 2]))
        targets.append(t)
    s, t = np.concatenate(scores), np.concatenate(targets)
    assert (t >= 1.0).sum() > 100 and (t < 1.0).sum() >= 50
    assert 0.8 <= np.mean(s[t < 1.0] <= widen) < 0.85  # 80 % of out-of-fold declining windows covered
    assert not 0.8 <= np.mean(s <= widen) < 0.85  # not 80 % of all of them: the flat part had no say


def loop_predict(net, x):
    return loop.predict(net, x)
