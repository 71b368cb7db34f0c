"""Drift detection: the statistics against references, alarms on a shift, quiet on unshifted data."""

import numpy as np
import pytest
import torch
from scipy.stats import binom, ks_2samp

from course_utils.deployment.drift import (
    DriftDetector,
    alarm_rate,
    binomial_upper,
    ks_test,
    mmd_test,
    penultimate_features,
)
from course_utils.deployment.shift import scanner_shift
from tests.deployment_helpers import needs_pneumonia, splits, trained_predictor


def reference_mmd2(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """The unbiased MMD^2 written as the three double sums (Gretton et al., 2012, eq. 3)."""
    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2 * xy


def test_mmd_matches_the_double_sums_and_its_p_value_is_a_permutation_p_value():
    rng = torch.Generator().manual_seed(1)
    x, y = torch.randn(12, 3, generator=rng), torch.randn(9, 3, generator=rng) + 0.5
    statistic, p_value = mmd_test(x, y, permutations=99, bandwidth=1.3)
    assert statistic == pytest.approx(reference_mmd2(x.double().numpy(), y.double().numpy(), 1.3), abs=1e-10)
    assert p_value in {k / 100 for k in range(1, 101)}  # (1 + count) / (1 + 99)
    same = mmd_test(x, x[torch.randperm(12, generator=rng)], permutations=99)
    assert same[1] == 1.0  # identical samples: every permutation ties or beats it


def test_ks_test_is_scipys_with_bonferroni():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 4)), rng.normal(size=(70, 4)) + [0, 0, 0.8, 0]
    statistic, p_value = ks_test(torch.tensor(x), torch.tensor(y))
    per_column = [ks_2samp(x[:, j], y[:, j]) for j in range(4)]
    assert statistic == pytest.approx(max(r.statistic for r in per_column))
    assert p_value == pytest.approx(min(1.0, 4 * min(r.pvalue for r in per_column)))


def test_binomial_upper_bound():
    assert binomial_upper(0.05, 100) == pytest.approx(0.1023, abs=1e-3)
    assert binomial_upper(1.0, 10) == 1.0


@needs_pneumonia
@pytest.mark.slow
def test_flags_the_scanner_shift_and_stays_quiet_on_held_out_unshifted_data():
    predictor = trained_predictor()
    data = splits()
    val_features, val_probs = penultimate_features(predictor, data["val"].images)
    shifted_features, shifted_probs = penultimate_features(predictor, scanner_shift(data["val"].images, seed=1))
    reference = (val_features, val_probs.max(1).values)
    trials, alpha = 40, 0.05
    null = alarm_rate(reference, None, window=100, trials=trials, alpha=alpha)
    shift = alarm_rate(reference, (shifted_features, shifted_probs.max(1).values), window=100, trials=20,
                       alpha=alpha)
    # a valid level-5% test alarms in k of 40 unshifted trials with k above this only 0.1% of the time
    chance = binom.ppf(0.999, trials, alpha) / trials
    assert null["mmd"] <= chance and null["ks"] <= chance and null["confidence"] <= chance
    assert shift["mmd"] >= 0.9 and shift["ks"] >= 0.9


@needs_pneumonia
def test_detector_checks_its_arguments():
    features, confidence = torch.randn(50, 8), torch.rand(50)
    with pytest.raises(ValueError, match="50 feature rows but 49 confidences"):
        DriftDetector(features, confidence[:49])
    with pytest.raises(ValueError, match="alpha must be in"):
        DriftDetector(features, confidence, alpha=5)
    with pytest.raises(ValueError, match="needs 45 \\+ 10 images"):
        alarm_rate((features, confidence), None, window=10, reference_size=45)
    with pytest.raises(ValueError, match="the same 50 images"):
        alarm_rate((features, confidence), (features[:40], confidence[:40]))
    report = DriftDetector(features, confidence, components=4).test(features[:20] + 3, confidence[:20])
    assert report.alarms["mmd"] and report.mmd_p < 0.05


def test_scanner_shift_changes_exposure_blur_and_noise():
    images = torch.full((2, 1, 28, 28), 200, dtype=torch.uint8)
    images[:, :, :, :14] = 50
    shifted = scanner_shift(images, contrast=0.5, brightness=0.0, blur_sigma=0.0, noise=0.0)
    assert shifted[0, 0, 0, 20].item() == round(255 * (0.5 + 0.5 * (200 / 255 - 0.5)))
    blurred = scanner_shift(images, contrast=1.0, brightness=0.0, blur_sigma=1.0, noise=0.0)
    assert 50 < blurred[0, 0, 5, 14].item() < 200  # the edge is softened
    noisy = scanner_shift(images, contrast=1.0, brightness=0.0, blur_sigma=0.0, noise=0.05, seed=3)
    assert 5 < (noisy.float() - images.float()).std() < 20
    with pytest.raises(ValueError, match="uint8"):
        scanner_shift(images.float())
