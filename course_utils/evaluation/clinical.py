"""The numbers clinicians ask for: AUC, sensitivity, specificity, PPV, NPV, with bootstrap CIs.

A binary classifier gives a score ``p`` (the probability of the positive class). A
*threshold* ``t`` turns it into a decision: positive when ``p >= t``. Then

- sensitivity (recall, true-positive rate) = TP / (TP + FN): of the sick, how many are found;
- specificity (true-negative rate) = TN / (TN + FP): of the healthy, how many are cleared;
- PPV (precision) = TP / (TP + FP): of the positive calls, how many are right;
- NPV = TN / (TN + FN): of the negative calls, how many are right.

Sensitivity and specificity do not depend on how common the disease is in the test set;
PPV, NPV and accuracy do. AUC does not depend on any threshold.

>>> import numpy as np
>>> labels, probs = np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])
>>> m = binary_metrics(labels, probs, threshold=0.5)
>>> m["sensitivity"], m["specificity"], m["tp"], m["fp"]
(0.5, 0.5, 1, 1)
>>> round(roc_auc(labels, probs), 2)
0.75
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.stats import rankdata


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def check_binary_inputs(labels, probs, name: str = "probs") -> tuple[np.ndarray, np.ndarray]:
    """Labels in {0, 1} and probabilities in [0, 1], same length, not empty; else a clear error."""
    labels, probs = _numpy(labels).reshape(-1), _numpy(probs).astype(np.float64).reshape(-1)
    if len(labels) == 0:
        raise ValueError("the split is empty: no labels to score")
    if len(labels) != len(probs):
        raise ValueError(f"{len(labels)} labels but {len(probs)} {name}: they must match")
    if np.isnan(probs).any():
        raise ValueError(f"{name} contain {int(np.isnan(probs).sum())} NaN value(s)")
    if probs.min() < 0 or probs.max() > 1:
        raise ValueError(f"{name} must be probabilities in [0, 1], got values from "
                         f"{probs.min():.4g} to {probs.max():.4g}: apply softmax or sigmoid to logits first")
    bad = sorted(set(np.unique(labels).tolist()) - {0, 1})
    if bad:
        raise ValueError(f"binary labels must be 0 or 1, got {bad}")
    return labels.astype(np.int64), probs


def require_classes(labels, num_classes: int, split: str = "split") -> None:
    """Raise if a class has no example in ``labels``: AUC and sensitivity are undefined then.

    >>> require_classes([0, 0, 1], 2)
    >>> require_classes([0, 0], 2, "test")
    Traceback (most recent call last):
    ...
    ValueError: the test split has no example of class 1 (of 0..1): ...
    """
    labels = _numpy(labels).reshape(-1)
    if len(labels) == 0:
        raise ValueError(f"the {split} split is empty")
    missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"the {split} split has no example of class {', '.join(map(str, missing))} "
                         f"(of 0..{num_classes - 1}): metrics per class such as AUC and sensitivity "
                         "are undefined; check how the split was made")


def binary_metrics(labels, probs, threshold: float = 0.5) -> dict[str, float]:
    """Confusion counts and the rates above at ``threshold`` (positive when ``prob >= threshold``).

    A rate whose denominator is zero (no positive calls, say) is NaN.
    """
    labels, probs = check_binary_inputs(labels, probs)
    predicted = probs >= threshold
    tp = int(np.sum(predicted & (labels == 1)))
    fp = int(np.sum(predicted & (labels == 0)))
    tn = int(np.sum(~predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))

    def rate(a: int, b: int) -> float:
        return a / (a + b) if a + b else float("nan")

    return {"threshold": float(threshold), "tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "sensitivity": rate(tp, fn), "specificity": rate(tn, fp),
            "ppv": rate(tp, fp), "npv": rate(tn, fn), "accuracy": (tp + tn) / len(labels)}


def _binary_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """AUC as the Mann-Whitney statistic: the chance that a positive outranks a negative
    (ties count one half). Same value as scikit-learn's ``roc_auc_score``, about 20x faster,
    which matters inside a bootstrap."""
    ranks = rankdata(scores)  # average ranks for ties
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve: binary ``scores`` ``(N,)``, or ``(N, K)`` class probabilities
    averaged one-versus-rest over the classes (as MedMNIST reports it)."""
    labels, scores = _numpy(labels).reshape(-1), _numpy(scores).astype(np.float64)
    if scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]
    if scores.ndim == 1:
        check_binary_inputs(labels, scores, "scores")
        require_classes(labels, 2)
        return _binary_auc(labels == 1, scores)
    require_classes(labels, scores.shape[1])
    return float(np.mean([_binary_auc(labels == k, scores[:, k]) for k in range(scores.shape[1])]))


def threshold_for_sensitivity(labels, probs, target: float = 0.95) -> float:
    """The highest threshold whose sensitivity on (``labels``, ``probs``) is at least ``target``.

    Choose it on validation data, then apply it once to the test set. The highest such
    threshold keeps as much specificity as the target allows.

    >>> threshold_for_sensitivity([0, 1, 1, 1, 1], [0.2, 0.3, 0.6, 0.7, 0.9], target=0.75)
    0.6
    """
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    labels, probs = check_binary_inputs(labels, probs)
    positives = np.sort(probs[labels == 1])[::-1]  # highest score first
    if len(positives) == 0:
        raise ValueError("no positive examples: sensitivity is undefined")
    needed = int(np.ceil(target * len(positives) - 1e-9))  # positives that must score >= t
    return float(positives[max(needed, 1) - 1])


def bootstrap_ci(metric: Callable[[np.ndarray, np.ndarray], float], labels, scores,
                 n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                 stratified: bool = True) -> tuple[float, float, float]:
    """``(value, low, high)``: ``metric(labels, scores)`` with a percentile bootstrap interval.

    Each resample draws the test cases with replacement; ``stratified`` draws each class
    separately, so every resample keeps the test set's class counts (and AUC stays defined).
    ``scores`` may be ``(N,)`` or ``(N, K)``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.r_[np.zeros(100), np.ones(100)].astype(int); p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    >>> value, low, high = bootstrap_ci(roc_auc, y, p, n_resamples=200)
    >>> low < value < high
    True
    """
    labels, scores = _numpy(labels).reshape(-1), _numpy(scores)
    if len(labels) == 0:
        raise ValueError("the split is empty: nothing to bootstrap")
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} scores: they must match")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)] if stratified else [np.arange(len(labels))]
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        index = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        values[i] = metric(labels[index], scores[index])
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(values, [alpha, 1 - alpha])
    return float(metric(labels, scores)), float(low), float(high)


def clinical_report(labels, probs, threshold: float, n_resamples: int = 1000,
                    seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """AUC and the threshold metrics, each as ``(value, low, high)`` with a 95% bootstrap CI.

    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 1, 1, 1] * 10); p = np.array([0.1, 0.4, 0.6, 0.5, 0.8, 0.9] * 10)
    >>> report = clinical_report(y, p, threshold=0.5, n_resamples=100)
    >>> sorted(report)
    ['accuracy', 'auc', 'npv', 'ppv', 'sensitivity', 'specificity']
    """
    labels, probs = check_binary_inputs(labels, probs)
    require_classes(labels, 2, "evaluated")
    report = {"auc": bootstrap_ci(roc_auc, labels, probs, n_resamples, seed=seed)}
    for name in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
        def metric(y, p, name=name):
            return binary_metrics(y, p, threshold)[name]
        report[name] = bootstrap_ci(metric, labels, probs, n_resamples, seed=seed)
    return report
