"""The classifiers learn device states from windows, keep the user's labels, and refuse unknown ones."""

from __future__ import annotations

import numpy as np
import pytest

from prognos.errors import InvalidInput
from prognos.train.estimators import DeepClassifier, LogisticClassifier
from tests.train.estimators.test_conformance import class_data


@pytest.mark.parametrize(
    "make",
    [lambda: DeepClassifier(channels=8, kernel=3, hidden=16, epochs=40, seed=0), lambda: LogisticClassifier()],
    ids=["deep", "logistic"],
)
def test_classifiers_learn_states_with_the_users_labels(make):
    x, y, xv, yv = class_data(0)
    names = np.array(["idle", "running", "cavitation"])
    model = make().fit(x, names[y], xv, names[yv])
    assert sorted(model.classes_) == sorted(names)
    p = model.predict_proba(xv)
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert (model.predict(xv) == names[yv]).mean() >= 0.9


def test_a_validation_label_unseen_in_training_is_named():
    x, y, xv, yv = class_data(0)
    yv = yv.copy()
    yv[0] = 7
    with pytest.raises(InvalidInput, match="7"):
        DeepClassifier(epochs=1).fit(x, y, xv, yv)


def test_one_class_cannot_be_learned():
    x, *_ = class_data(0)
    with pytest.raises(InvalidInput, match="2 classes"):
        LogisticClassifier().fit(x, np.zeros(len(x)))
