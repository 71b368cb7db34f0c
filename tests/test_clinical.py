"""Clinical metrics, thresholds and bootstrap CIs, checked against scikit-learn and scipy on real X-rays."""

import numpy as np
import pytest
import torch
from scipy.stats import bootstrap
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

from course_utils.evaluation.clinical import (
    binary_metrics,
    bootstrap_ci,
    clinical_report,
    require_classes,
    roc_auc,
    threshold_for_sensitivity,
)
from tests.conftest import medmnist_available

pytestmark = pytest.mark.skipif(not medmnist_available(), reason="MEDMNIST_DIR not set")


@pytest.fixture(scope="module")
def xray_scores():
    """PneumoniaMNIST test labels and a real, weak score: how bright the lungs' middle band is."""
    from course_utils import load_medmnist

    test = load_medmnist("pneumoniamnist", "test")
    middle = test.images[:, 0, 10:18, 4:24].float().mean(dim=(1, 2)) / 255
    return test.labels.numpy(), middle.numpy()


def test_rates_match_scikit_learn(xray_scores):
    labels, scores = xray_scores
    threshold = float(np.median(scores))
    m = binary_metrics(labels, scores, threshold)
    predicted = (scores >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted).ravel()
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (tp, fp, tn, fn)
    assert m["sensitivity"] == pytest.approx(recall_score(labels, predicted))
    assert m["specificity"] == pytest.approx(recall_score(1 - labels, 1 - predicted))
    assert m["ppv"] == pytest.approx(precision_score(labels, predicted))
    assert m["npv"] == pytest.approx(precision_score(1 - labels, 1 - predicted))
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_multiclass_auc_is_the_one_versus_rest_mean():
    from course_utils import load_medmnist

    test = load_medmnist("retinamnist", "test")
    generator = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(len(test), 5, generator=generator)
                          + 2 * torch.nn.functional.one_hot(test.labels, 5), dim=1).numpy()
    expected = roc_auc_score(test.labels.numpy(), probs, multi_class="ovr", average="macro")
    assert roc_auc(test.labels, probs) == pytest.approx(expected)


def test_threshold_reaches_the_target_sensitivity_and_no_higher_threshold_does(xray_scores):
    labels, scores = xray_scores
    for target in (0.8, 0.9, 0.95):
        t = threshold_for_sensitivity(labels, scores, target)
        assert binary_metrics(labels, scores, t)["sensitivity"] >= target
        higher = np.min(scores[scores > t]) if np.any(scores > t) else t + 1
        assert binary_metrics(labels, scores, higher)["sensitivity"] < target


def test_bootstrap_interval_agrees_with_scipy(xray_scores):
    labels, scores = xray_scores
    value, low, high = bootstrap_ci(roc_auc, labels, scores, n_resamples=1000, stratified=False)
    reference = bootstrap((labels, scores), lambda y, p: roc_auc_score(y, p), paired=True,
                          vectorized=False, n_resamples=1000, method="percentile",
                          random_state=np.random.default_rng(0)).confidence_interval
    assert low < value < high
    assert low == pytest.approx(reference.low, abs=0.015) and high == pytest.approx(reference.high, abs=0.015)
    s_value, s_low, s_high = bootstrap_ci(roc_auc, labels, scores, n_resamples=1000, stratified=True)
    assert s_value == value and s_low < value < s_high


def test_clinical_report_has_every_metric_with_an_interval(xray_scores):
    labels, scores = xray_scores
    report = clinical_report(labels, scores, threshold=float(np.median(scores)), n_resamples=200)
    assert set(report) == {"auc", "sensitivity", "specificity", "ppv", "npv", "accuracy"}
    for name, (value, low, high) in report.items():
        assert 0 <= low <= value <= high <= 1, name


def test_bad_inputs_are_named(xray_scores):
    labels, scores = xray_scores
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*apply softmax"):
        binary_metrics(labels, scores * 3 - 1)
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics(labels, np.where(np.arange(len(scores)) == 3, np.nan, scores))
    with pytest.raises(ValueError, match="empty"):
        binary_metrics([], [])
    with pytest.raises(ValueError, match="624 labels but 10 probs"):
        binary_metrics(labels, scores[:10])
    with pytest.raises(ValueError, match="binary labels must be 0 or 1, got \\[2\\]"):
        binary_metrics(np.where(labels == 1, 2, 0), scores)
    with pytest.raises(ValueError, match="the test split has no example of class 1"):
        require_classes(labels[labels == 0], 2, "test")
    with pytest.raises(ValueError, match="no example of class 1"):
        roc_auc(labels[labels == 0], scores[labels == 0])
