"""Calibration: does a predicted 80% come true 80% of the time?

Sort the predictions into bins by confidence (the probability of the predicted class).
In a calibrated model each bin's accuracy equals its mean confidence. The *expected
calibration error* (Guo et al., 2017) is the gap averaged over bins, weighted by size:

    ECE = sum_b (n_b / N) * |accuracy_b - confidence_b|

*Temperature scaling* divides every logit by one number ``T > 0``, fitted on validation
data by minimising the negative log-likelihood. It never changes which class wins (so
accuracy and AUC stay the same); it only makes the probabilities more or less confident.

>>> import torch
>>> probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
>>> round(expected_calibration_error(probs, torch.tensor([0, 1, 1, 1]), n_bins=5), 3)
0.35
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _as_probs(probs) -> torch.Tensor:
    probs = torch.as_tensor(probs, dtype=torch.float64)
    if probs.ndim == 1:  # binary: the positive class's probability
        probs = torch.stack([1 - probs, probs], dim=1)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be (N,) or (N, K), got shape {tuple(probs.shape)}")
    if len(probs) == 0:
        raise ValueError("the split is empty: no probabilities to calibrate")
    if torch.isnan(probs).any() or probs.min() < 0 or probs.max() > 1:
        raise ValueError("probabilities must lie in [0, 1] (got NaN or values outside): "
                         "apply softmax or sigmoid to logits first")
    return probs


def reliability_bins(probs, labels, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin: mean confidence, accuracy and count (empty bins: NaN)."""
    probs, labels = _as_probs(probs), torch.as_tensor(labels).reshape(-1)
    if len(labels) != len(probs):
        raise ValueError(f"{len(probs)} predictions but {len(labels)} labels: they must match")
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    which = (confidence * n_bins).long().clamp(0, n_bins - 1)  # bin b holds [b/n, (b+1)/n)
    count = torch.bincount(which, minlength=n_bins).double()
    mean_conf = torch.bincount(which, confidence, minlength=n_bins) / count
    accuracy = torch.bincount(which, correct, minlength=n_bins) / count
    return {"edges": edges.numpy(), "confidence": mean_conf.numpy(), "accuracy": accuracy.numpy(),
            "count": count.numpy()}


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """ECE over ``n_bins`` equal-width confidence bins (top-label, as in Guo et al. 2017)."""
    bins = reliability_bins(probs, labels, n_bins)
    filled = bins["count"] > 0
    weights = bins["count"][filled] / bins["count"].sum()
    return float(np.sum(weights * np.abs(bins["accuracy"][filled] - bins["confidence"][filled])))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 100) -> float:
    """The temperature ``T`` that minimises the NLL of ``softmax(logits / T)`` on these labels.

    Fit it on validation logits, never on the test set. ``T > 1`` softens over-confident
    predictions, ``T < 1`` sharpens timid ones.

    >>> _ = torch.manual_seed(0)
    >>> labels = torch.randint(0, 3, (500,))
    >>> logits = 5 * F.one_hot(labels, 3).float() + 3 * torch.randn(500, 3)   # over-confident
    >>> fit_temperature(logits, labels) > 1
    True
    """
    logits, labels = torch.as_tensor(logits).detach().double(), torch.as_tensor(labels).reshape(-1)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"logits must be (N, K) with one label each, got {tuple(logits.shape)} "
                         f"and {len(labels)} labels")
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)  # T = exp(log_t) stays positive
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())
