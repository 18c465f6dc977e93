import numpy as np
import pytest

from prognos.evaluate.metrics import coverage, nasa_score, rmse


def test_nasa_score_by_hand():
    # early by 13 -> e^1 - 1; late by 10 -> e^1 - 1; exact -> 0
    assert nasa_score(np.array([7.0, 30.0, 5.0]), np.array([20.0, 20.0, 5.0])) == pytest.approx(2 * (np.e - 1))
    assert nasa_score(np.array([30.0]), np.array([20.0])) > nasa_score(
        np.array([10.0]), np.array([20.0])
    )  # late costs more


def test_rmse_and_coverage_by_hand():
    assert rmse(np.array([0.0, 0.0]), np.array([3.0, 4.0])) == pytest.approx(np.sqrt(12.5))
    assert coverage(np.array([0, 0, 0]), np.array([1, 1, 1]), np.array([0.5, 2, 1])) == pytest.approx(2 / 3)


def test_point_wise_f1_far_mar_match_a_hand_count():
    from prognos.evaluate.metrics import outlier_scores

    true = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0], dtype=bool)
    pred = np.array([0, 1, 0, 0, 0, 1, 1, 1, 1, 1], dtype=bool)
    # TP 4, FP 2, FN 1, TN 3 -> F1 = 4 / (4 + 1.5); FAR = 2/5; MAR = 1/5
    assert outlier_scores(pred, true) == {"f1": 4 / 5.5, "far": 40.0, "mar": 20.0}
