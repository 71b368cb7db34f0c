"""Comparing two arms that share seeds or a test set: paired differences, not two spreads.

When arms A and B run on the same seeds (same data draw, same initial head, same batches),
most of the seed-to-seed noise is shared; judging "A beats B" by ``mean(A) - mean(B) > sd``
ignores that and is both too strict (shared noise inflates the sd) and too lenient (one
spread, no interval). The paired way looks at the per-seed differences ``A_i - B_i``:

>>> d = paired_seeds([0.80, 0.75, 0.90], [0.78, 0.74, 0.87])
>>> d.n, d.n_positive, round(d.mean, 4), round(d.sd, 4)
(3, 3, 0.02, 0.01)
>>> d.describe("LP-FT", "probe")
'LP-FT - probe: +0.020 ± 0.010 (sd of 3 per-seed differences; 95% CI -0.005 to +0.045), LP-FT ahead in 3 of 3 seeds'
>>> d.a_ahead()  # ahead in every seed, but three seeds cannot exclude zero
False

On one test set, the paired bootstrap resamples the test images once per resample and scores
both models on the same resample, so the interval is that of the *difference*:

>>> import numpy as np
>>> y = np.array([0, 1] * 50); right_a = np.r_[np.ones(90), np.zeros(10)]; right_b = np.r_[np.ones(80), np.zeros(20)]
>>> b = paired_bootstrap(accuracy_of, y, right_a * y + (1 - right_a) * (1 - y), right_b * y + (1 - right_b) * (1 - y))
>>> round(b.observed, 2), b.low > 0
(0.1, True)

``verdict`` turns an interval into words a lesson may print, and claims a tie only when the
whole interval fits inside the margin that counts as "the same" (an interval that merely
crosses zero is "not separated", with the size of effect it could have shown):

>>> verdict(-0.01, 0.02, margin=0.03)
'tie (the 95% interval -0.010 to +0.020 lies within ±0.030)'
>>> verdict(-0.04, 0.06, margin=0.03)
'not separated: the 95% interval -0.040 to +0.060 excludes only effects beyond those bounds'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# Two-sided 95% quantiles of Student's t for 1 ... 30 degrees of freedom (scipy.stats.t.ppf(0.975, df));
# tests/test_paired.py checks them against scipy.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
         2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """Student's t 97.5% quantile (two-sided 95%): a table to 30 degrees of freedom, then the
    Cornish-Fisher expansion around the normal's 1.96 (within 1e-4 of scipy beyond 30)."""
    if df < 1:
        raise ValueError(f"a t interval needs at least 1 degree of freedom (2 seeds), got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


@dataclass(frozen=True)
class PairedSeeds:
    """Per-seed differences A_i - B_i of two arms run on the same seeds."""

    differences: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def mean(self) -> float:
        return float(np.mean(self.differences))

    @property
    def sd(self) -> float:
        """Sample sd (ddof = 1) of the differences; NaN for one seed."""
        return float(np.std(self.differences, ddof=1)) if self.n > 1 else math.nan

    @property
    def n_positive(self) -> int:
        return sum(d > 0 for d in self.differences)

    def interval(self) -> tuple[float, float]:
        """95% t interval of the mean difference; ``(nan, nan)`` with one seed."""
        if self.n < 2:
            return math.nan, math.nan
        half = t_quantile_975(self.n - 1) * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    def a_ahead(self, margin: float = 0.0) -> bool:
        """A is ahead: ahead in every seed and the interval's lower end above ``margin``."""
        low, _ = self.interval()
        return self.n >= 2 and self.n_positive == self.n and low > margin

    def b_ahead(self, margin: float = 0.0) -> bool:
        return PairedSeeds(tuple(-d for d in self.differences)).a_ahead(margin)

    def describe(self, a: str = "A", b: str = "B") -> str:
        if self.n == 1:
            return f"{a} - {b}: {self.mean:+.3f} (one seed: no spread, no interval)"
        low, high = self.interval()
        return (f"{a} - {b}: {self.mean:+.3f} ± {self.sd:.3f} (sd of {self.n} per-seed differences; "
                f"95% CI {low:+.3f} to {high:+.3f}), {a} ahead in {self.n_positive} of {self.n} seeds")


def paired_seeds(a: Sequence[float], b: Sequence[float]) -> PairedSeeds:
    """Compare arms ``a`` and ``b`` (one score per seed, in the same seed order)."""
    if len(a) != len(b):
        raise ValueError(f"paired arms need one score per seed each, got {len(a)} and {len(b)}")
    if len(a) == 0:
        raise ValueError("no seeds to compare")
    return PairedSeeds(tuple(float(x) - float(y) for x, y in zip(a, b)))


@dataclass(frozen=True)
class PairedBootstrap:
    """``metric(A) - metric(B)`` on one test set, with a paired percentile bootstrap interval."""

    observed: float
    low: float
    high: float
    share_a_ahead: float  # share of resamples in which A scored higher

    def describe(self, a: str = "A", b: str = "B") -> str:
        return (f"{a} - {b}: {self.observed:+.3f} (paired bootstrap 95% CI {self.low:+.3f} to "
                f"{self.high:+.3f}; {a} ahead in {self.share_a_ahead:.0%} of resamples)")


def accuracy_of(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Share of predictions equal to the labels (a metric for ``paired_bootstrap``)."""
    return float(np.mean(np.asarray(labels) == np.asarray(predictions)))


def paired_bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], labels, outputs_a, outputs_b,
                     n_resamples: int = 1000, seed: int = 0, stratified: bool = True) -> PairedBootstrap:
    """Bootstrap the difference ``metric(labels, outputs_a) - metric(labels, outputs_b)``.

    Each resample draws the test cases with replacement once and scores both models on it
    (``stratified``: each class separately, so AUC stays defined). ``outputs`` are what
    ``metric`` takes: predicted labels for ``accuracy_of``, scores for an AUC.
    """
    labels = np.asarray(labels).reshape(-1)
    outputs_a, outputs_b = np.asarray(outputs_a), np.asarray(outputs_b)
    if not len(labels) == len(outputs_a) == len(outputs_b):
        raise ValueError(f"{len(labels)} labels, {len(outputs_a)} and {len(outputs_b)} outputs: they must match")
    if len(labels) == 0:
        raise ValueError("the test set is empty: nothing to bootstrap")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratified else [np.arange(len(labels))]
    differences = np.empty(n_resamples)
    for i in range(n_resamples):
        index = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        differences[i] = metric(labels[index], outputs_a[index]) - metric(labels[index], outputs_b[index])
    low, high = np.nanquantile(differences, [0.025, 0.975])
    observed = metric(labels, outputs_a) - metric(labels, outputs_b)
    return PairedBootstrap(float(observed), float(low), float(high), float(np.mean(differences > 0)))


def verdict(low: float, high: float, margin: float) -> str:
    """Words for a 95% interval ``[low, high]`` of a difference A - B.

    "A ahead" / "B ahead" when it excludes zero, "tie" only when it lies within ±``margin``,
    otherwise "not separated", naming the bounds beyond which an effect would have shown.
    """
    span = f"the 95% interval {low:+.3f} to {high:+.3f}"
    if math.isnan(low) or math.isnan(high):
        return "not measurable (one seed: no interval)"
    if low > 0 or high < 0:
        ahead = "A" if low > 0 else "B"
        small = (f" but lies within ±{margin:.3f}: a real, small difference"
                 if -margin <= low and high <= margin else "")
        return f"{ahead} ahead ({span} excludes 0{small})"
    if -margin <= low and high <= margin:
        return f"tie ({span} lies within ±{margin:.3f})"
    return f"not separated: {span} excludes only effects beyond those bounds"
