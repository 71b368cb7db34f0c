"""Drift monitoring without labels: has the input distribution moved away from the reference?

In deployment the labels come late or never, but the inputs arrive every day. Two signals:

- **confidence**: a model is usually less sure on inputs unlike its training data. A
  one-sided Mann-Whitney test asks whether a window's top-class probabilities are lower
  than on the reference set;
- **features**: a two-sample test on the network's penultimate features, reduced by a PCA
  fitted on the reference. The *maximum mean discrepancy* (Gretton et al., 2012) with a
  Gaussian kernel ``k``,

      MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y),

  is zero only when the two distributions are equal. Its null distribution comes from
  permutations: shuffle the pooled samples, split them again, recompute. The p-value is
  ``(1 + #{permuted >= observed}) / (1 + permutations)``. A Kolmogorov-Smirnov test per
  principal component (Bonferroni-corrected) is the cheaper classic alternative.

The *reference* must be held-out data (validation images): features of training images
are not what the model sees in deployment. The level ``alpha`` is the false-alarm rate the
test promises on unshifted data; :func:`alarm_rate` measures it.

>>> rng = torch.Generator().manual_seed(0)
>>> x, y = torch.randn(60, 3, generator=rng), torch.randn(60, 3, generator=rng) + 1.0
>>> mmd_test(x, y, permutations=200)[1] < 0.01, mmd_test(x, x[torch.randperm(60)][:30], permutations=200)[1] > 0.05
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..models.surgery import head_name
from .predictor import Predictor


@torch.no_grad()
def penultimate_features(predictor: Predictor, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The inputs of the classification head ``(N, D)`` for prepared images ``(N, C, S, S)``,
    with the calibrated probabilities ``(N, K)`` of the same forward pass."""
    head: nn.Module = getattr(predictor.model, head_name(predictor.model))
    caught: list[torch.Tensor] = []
    handle = head.register_forward_pre_hook(lambda module, inputs: caught.append(inputs[0].detach()))
    try:
        probs = predictor.probabilities(images) if len(images) else torch.empty(0, len(predictor.classes))
    finally:
        handle.remove()
    return torch.cat(caught).flatten(1), probs


def median_bandwidth(z: torch.Tensor) -> float:
    """The median pairwise distance: the usual bandwidth for a Gaussian kernel."""
    distances = torch.cdist(z, z)
    return float(distances[torch.triu(torch.ones_like(distances, dtype=torch.bool), 1)].median())


def _within_sums(kernel: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """Sum of ``kernel[i, j]`` over pairs ``i != j`` with both members, one value per row of ``members``."""
    return ((members @ kernel) * members).sum(1) - (members * kernel.diagonal()).sum(1)


def mmd_test(x: torch.Tensor, y: torch.Tensor, permutations: int = 500, bandwidth: float | None = None,
             seed: int = 0) -> tuple[float, float]:
    """``(MMD^2, p-value)``: the unbiased MMD^2 of samples ``x (n, d)`` and ``y (m, d)`` with a
    Gaussian kernel, and its permutation p-value. ``bandwidth`` defaults to the pooled median distance."""
    z = torch.cat([x, y]).double()
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError(f"each sample needs at least 2 points, got {n} and {m}")
    sigma = bandwidth or median_bandwidth(z)
    kernel = torch.exp(-torch.cdist(z, z) ** 2 / (2 * sigma**2))  # (n + m, n + m)
    generator = torch.Generator().manual_seed(seed)
    orders = torch.stack([torch.arange(n + m)] + [torch.randperm(n + m, generator=generator)
                                                  for _ in range(permutations)])
    in_x = torch.zeros(len(orders), n + m, dtype=torch.float64)
    in_x.scatter_(1, orders[:, :n], 1.0)  # row 0: the observed split; then the permuted ones
    in_y = 1 - in_x
    total = kernel.sum() - kernel.diagonal().sum()
    xx, yy = _within_sums(kernel, in_x), _within_sums(kernel, in_y)
    xy = (total - xx - yy) / 2
    statistics = xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2 * xy / (n * m)
    observed = statistics[0]
    as_extreme = int((statistics[1:] >= observed - 1e-12).sum())  # ties count (rounding aside)
    return float(observed), (1 + as_extreme) / (1 + permutations)


def ks_test(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """``(largest KS statistic, Bonferroni p-value)`` over the columns of ``x`` and ``y``."""
    from scipy.stats import ks_2samp

    results = [ks_2samp(a, b) for a, b in zip(x.T.numpy(), y.T.numpy())]
    p_min = min(r.pvalue for r in results)
    return float(max(r.statistic for r in results)), float(min(1.0, p_min * len(results)))


def confidence_test(reference: torch.Tensor, window: torch.Tensor) -> tuple[float, float]:
    """``(drop in mean confidence, one-sided p-value)``: are the window's top-class
    probabilities lower than the reference's? (Mann-Whitney U test.)"""
    from scipy.stats import mannwhitneyu

    drop = float(reference.mean() - window.mean())
    return drop, float(mannwhitneyu(reference.numpy(), window.numpy(), alternative="greater").pvalue)


@dataclass
class DriftReport:
    """One window's test results; an alarm is a p-value below the detector's level."""

    confidence_drop: float
    confidence_p: float
    mmd: float
    mmd_p: float
    ks_p: float
    alpha: float

    @property
    def alarms(self) -> dict[str, bool]:
        return {"confidence": self.confidence_p < self.alpha, "mmd": self.mmd_p < self.alpha,
                "ks": self.ks_p < self.alpha}


class DriftDetector:
    """Compare windows of deployment inputs with a held-out reference set.

    Args:
        reference_features: penultimate features ``(N, D)`` of held-out, unshifted images.
        reference_confidence: their top-class probabilities ``(N,)``.
        components: principal components kept for the feature tests (fitted on the reference).
        alpha: the level of every test (the promised false-alarm rate per window and test).
        permutations: for the MMD test; the smallest possible p-value is ``1 / (permutations + 1)``.
    """

    def __init__(self, reference_features: torch.Tensor, reference_confidence: torch.Tensor,
                 components: int = 10, alpha: float = 0.05, permutations: int = 200):
        if len(reference_features) != len(reference_confidence):
            raise ValueError(f"{len(reference_features)} feature rows but {len(reference_confidence)} confidences")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        features = reference_features.double()
        self.mean = features.mean(0)
        _, _, vh = torch.linalg.svd(features - self.mean, full_matrices=False)
        self.basis = vh[:components].T  # (D, components)
        self.reference = self.project(features)
        self.reference_confidence = reference_confidence.double()
        self.alpha, self.permutations = alpha, permutations
        self.bandwidth = median_bandwidth(self.reference)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(N, D)`` on the reference's principal components ``(N, components)``."""
        return (features.double() - self.mean) @ self.basis

    def test(self, features: torch.Tensor, confidence: torch.Tensor, seed: int = 0) -> DriftReport:
        """Test one window (its features and top-class probabilities) against the reference."""
        window = self.project(features)
        drop, confidence_p = confidence_test(self.reference_confidence, confidence.double())
        mmd, mmd_p = mmd_test(self.reference, window, self.permutations, self.bandwidth, seed)
        _, ks_p = ks_test(self.reference, window)
        return DriftReport(drop, confidence_p, mmd, mmd_p, ks_p, self.alpha)


def alarm_rate(reference: tuple[torch.Tensor, torch.Tensor], windows: tuple[torch.Tensor, torch.Tensor] | None = None,
               window: int = 100, reference_size: int | None = None, trials: int = 50, alpha: float = 0.05,
               components: int = 10, permutations: int = 200, seed: int = 0) -> dict[str, float]:
    """Fraction of ``trials`` that raise each alarm, each trial a fresh random split.

    ``reference`` is ``(features, top-class probabilities)`` of held-out images; ``windows``
    holds the *same images* (row ``i`` is image ``i``) after some change, e.g. as another
    scanner shows them; ``None`` means unchanged. Each trial splits the images at random into
    ``reference_size`` reference images (default: all but ``window``), on which a
    :class:`DriftDetector` is fitted, and a window of ``window`` others, taken from ``windows``.
    Unchanged, the rate is the *false-alarm rate* (a valid test keeps it near ``alpha``);
    changed, it is the *detection rate* (the power), due to the change alone.
    """
    features, confidence = reference
    changed_features, changed_confidence = windows if windows is not None else reference
    if len(changed_features) != len(features):
        raise ValueError(f"windows must hold the same {len(features)} images as the reference, "
                         f"got {len(changed_features)}")
    size = reference_size or len(features) - window
    if size + window > len(features):
        raise ValueError(f"a trial needs {size} + {window} images, the pool has {len(features)}")
    generator = torch.Generator().manual_seed(seed)
    counts = {"confidence": 0, "mmd": 0, "ks": 0}
    for trial in range(trials):
        order = torch.randperm(len(features), generator=generator)
        mine, index = order[:size], order[size:size + window]
        detector = DriftDetector(features[mine], confidence[mine], components, alpha, permutations)
        alarms = detector.test(changed_features[index], changed_confidence[index], seed=seed + trial).alarms
        for name, raised in alarms.items():
            counts[name] += int(raised)
    return {name: count / trials for name, count in counts.items()}


def binomial_upper(rate: float, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound (Clopper-Pearson) of a rate seen in ``trials`` trials.

    >>> round(binomial_upper(0.0, 50), 3)
    0.058
    """
    from scipy.stats import beta

    successes = round(rate * trials)
    return 1.0 if successes >= trials else float(beta.ppf(confidence, successes + 1, trials - successes))

