"""The model families, one module each with its public base: anomaly (`Detector`), classify (`Classifier`), rul
(`RULEstimator`). Each family has a deep estimator (a PyTorch network, exported to ONNX) and a classic baseline
beside it, both under the same contract and the same conformance tests (`tests/train/test_conformance.py` finds
every estimator defined here).

Importing a family imports torch: this package is training's, never serving's.
"""

from prognos.train.estimators.anomaly import AutoencoderDetector, Detector, PCADetector
from prognos.train.estimators.base import Deep, Estimator
from prognos.train.estimators.classify import Classifier, DeepClassifier, LogisticClassifier
from prognos.train.estimators.rul import GradientBoostingRUL, RULEstimator, RULRegressor

FAMILIES = {"anomaly": Detector, "classify": Classifier, "rul": RULEstimator}

__all__ = [
    "FAMILIES",
    "AutoencoderDetector",
    "Classifier",
    "Deep",
    "DeepClassifier",
    "Detector",
    "Estimator",
    "GradientBoostingRUL",
    "LogisticClassifier",
    "PCADetector",
    "RULEstimator",
    "RULRegressor",
]
