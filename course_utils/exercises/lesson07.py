"""Checkers for lesson 07, the medical-imaging case study.

>>> def rates(matrix):
...     (tn, fp), (fn, tp) = matrix
...     return tp / (tp + fn), tn / (tn + fp)
>>> sensitivity_specificity.check(rates)
Exercise 7.1: correct.
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import Exercise

# ---------------------------------------------------------------- 7.1 rates from a confusion matrix

_MATRICES = [((50, 10), (5, 35)), ((90, 3), (20, 7)), ((12, 30), (1, 57))]  # ((tn, fp), (fn, tp))


def _judge_rates(rates: Callable) -> bool:
    for matrix in _MATRICES:
        (tn, fp), (fn, tp) = matrix
        sensitivity, specificity = rates(np.array(matrix))
        if not (math.isclose(sensitivity, tp / (tp + fn), rel_tol=1e-9)
                and math.isclose(specificity, tn / (tn + fp), rel_tol=1e-9)):
            return False
    return True


sensitivity_specificity = Exercise(
    "7.1",
    "Write rates(matrix) returning (sensitivity, specificity) from a 2x2 confusion matrix "
    "[[TN, FP], [FN, TP]] (rows: true class 0 then 1; columns: predicted 0 then 1).",
    _judge_rates,
    hint="Sensitivity is about the truly sick (the row of true class 1), specificity about the "
         "truly healthy (row 0). Each is a diagonal count over its row's total.",
    solution="(tn, fp), (fn, tp) = matrix; return tp / (tp + fn), tn / (tn + fp)",
)

# ---------------------------------------------------------------- 7.2 threshold for a target sensitivity


def _threshold_cases() -> list[tuple[np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(72)
    cases = []
    for n_pos, n_neg, target in ((60, 140, 0.95), (200, 50, 0.9), (33, 33, 0.8)):
        labels = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
        probs = np.clip(np.r_[rng.beta(5, 2, n_pos), rng.beta(2, 5, n_neg)], 0, 1).round(3)  # ties too
        cases.append((labels, probs, target))
    return cases


def _sensitivity(labels: np.ndarray, probs: np.ndarray, threshold: float) -> float:
    return float(np.mean(probs[labels == 1] >= threshold))


def _judge_threshold(choose: Callable) -> bool:
    for labels, probs, target in _threshold_cases():
        t = float(choose(labels, probs, target))
        if _sensitivity(labels, probs, t) < target:
            return False  # misses the target
        higher = probs[probs > t]
        if len(higher) and _sensitivity(labels, probs, higher.min()) >= target:
            return False  # a higher threshold would still reach it, with more specificity
    return True


threshold_choice = Exercise(
    "7.2",
    "Write choose(labels, probs, target) returning the highest threshold t such that the "
    "sensitivity of 'positive when prob >= t' is at least target.",
    _judge_threshold,
    hint="Only the positives' scores decide sensitivity. Sort them from high to low: to call "
         "a fraction `target` of them positive, the threshold must be at most the score of "
         "the ceil(target * n_pos)-th one.",
    solution="pos = np.sort(probs[labels == 1])[::-1]; k = int(np.ceil(target * len(pos))); "
             "return pos[k - 1]",
    blocked=("course_utils.evaluation.clinical.threshold_for_sensitivity",),
)

# ---------------------------------------------------------------- 7.3 the article's head, fixed


def _judge_head(make_head: Callable[[int, int], nn.Module]) -> bool:
    torch.manual_seed(73)
    for in_features, num_classes in ((784, 2), (2352, 5)):
        head = make_head(in_features, num_classes)
        linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
        if len(linears) != 1 or linears[0].in_features != in_features:
            return False
        reference = nn.Linear(in_features, num_classes)
        linears[0].load_state_dict(reference.state_dict())  # same weights as the reference
        head.eval()
        x = torch.rand(8, 1 if in_features == 784 else 3, 28, 28)
        y = torch.arange(8) % num_classes
        out = head(x)
        if out.shape != (8, num_classes):
            return False
        if not torch.allclose(F.cross_entropy(out, y), F.cross_entropy(reference(x.flatten(1)), y), atol=1e-5):
            return False  # softmax before the loss changes it
    return True


logits_head = Exercise(
    "7.3",
    "Write make_head(in_features, num_classes): the article's classifier fixed. It flattens "
    "the image, applies one nn.Linear(in_features, num_classes) and returns logits, so that "
    "nn.CrossEntropyLoss gets what it expects.",
    _judge_head,
    hint="nn.CrossEntropyLoss applies log-softmax itself: the model must not. And the number "
         "of outputs comes from the argument, not from the article's 10.",
    solution="return nn.Sequential(nn.Flatten(), nn.Linear(in_features, num_classes))",
)

# ---------------------------------------------------------------- 7.4 expected calibration error


def _reference_ece(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    confidence, correct = probs.max(1), probs.argmax(1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    return sum(np.mean(bins == b) * abs(correct[bins == b].mean() - confidence[bins == b].mean())
               for b in range(n_bins) if np.any(bins == b))


def _judge_ece(ece: Callable) -> bool:
    rng = np.random.default_rng(74)
    for n_bins in (4, 7):
        probs = rng.dirichlet(np.ones(3) * 0.5, size=300)
        power = np.where(probs.max(1, keepdims=True) > 0.7, 3.0, 1 / 3)  # the truth: under-confident
        truth = probs ** power / (probs ** power).sum(1, keepdims=True)  # when sure, over-confident
        labels = np.array([rng.choice(3, p=row) for row in truth])      # when unsure
        expected = _reference_ece(probs, labels, n_bins)
        if not math.isclose(float(ece(probs, labels, n_bins)), expected, abs_tol=1e-6):
            return False
    return True


ece_by_hand = Exercise(
    "7.4",
    "Write ece(probs, labels, n_bins) for (N, K) probabilities: bin the top-class confidence "
    "into n_bins equal-width bins on [0, 1], and sum over bins (bin size / N) * |accuracy - "
    "mean confidence|.",
    _judge_ece,
    hint="conf = probs.max(1), correct = probs.argmax(1) == labels; a confidence c goes to bin "
         "min(int(c * n_bins), n_bins - 1); skip empty bins.",
    solution="conf, pred = probs.max(1), probs.argmax(1); b = np.minimum((conf * n_bins).astype(int), "
             "n_bins - 1); return sum((b == i).mean() * abs((pred == labels)[b == i].mean() - "
             "conf[b == i].mean()) for i in range(n_bins) if (b == i).any())",
    blocked=("course_utils.evaluation.calibration.expected_calibration_error",
             "course_utils.evaluation.calibration.reliability_bins"),
)

EXERCISES = [sensitivity_specificity, threshold_choice, logits_head, ece_by_hand]
