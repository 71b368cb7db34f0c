"""Checkers for lesson 08, deployment, monitoring and retraining.

>>> def affine(low, high):
...     low, high = min(low, 0.0), max(high, 0.0)
...     scale = (high - low) / 255
...     return scale, int(min(255, max(0, round(-low / scale))))
>>> int8_parameters.check(affine)
Exercise 8.2: correct.
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from . import Exercise

# ---------------------------------------------------------------- 8.1 the deployed decision rule


def _reference_decide(logits: torch.Tensor, temperature: float, threshold: float) -> torch.Tensor:
    return ((logits / temperature).softmax(1)[:, 1] >= threshold).long()


def _judge_decide(decide: Callable) -> bool:
    generator = torch.Generator().manual_seed(81)
    for temperature, threshold in ((1.3, 0.42), (0.7, 0.8), (2.0, 0.3), (1.0, 0.5)):
        logits = 3 * torch.randn(400, 2, generator=generator)
        got = torch.as_tensor(decide(logits.clone(), temperature, threshold)).reshape(-1).long()
        if not torch.equal(got, _reference_decide(logits, temperature, threshold)):
            return False
    return True


calibrated_decision = Exercise(
    "8.1",
    "Write decide(logits, temperature, threshold) for (N, 2) logits: the class (0 or 1) the "
    "deployed predictor answers, where P(class 1) = softmax(logits / temperature)[:, 1] and "
    "class 1 is chosen when P(class 1) >= threshold.",
    _judge_decide,
    hint="Both numbers matter: the temperature changes the probabilities, and the threshold "
         "(not 0.5, not the arg-max) turns P(class 1) into the decision.",
    solution="return ((logits / temperature).softmax(dim=1)[:, 1] >= threshold).long()",
)

# ---------------------------------------------------------------- 8.2 int8 scale and zero point


def _reference_affine(low: float, high: float) -> tuple[float, int]:
    low, high = min(low, 0.0), max(high, 0.0)  # the course's affine_parameters is blocked while judging
    scale = (high - low) / 255
    return scale, int(min(255, max(0, round(-low / scale))))


def _judge_affine(affine: Callable) -> bool:
    for low, high in ((-1.0, 3.0), (0.5, 2.0), (-2.0, -0.5), (0.0, 6.0), (-0.37, 0.11)):
        scale, zero_point = affine(low, high)
        expected_scale, expected_zero = _reference_affine(low, high)
        if not math.isclose(float(scale), expected_scale, rel_tol=1e-6):
            return False
        if not isinstance(zero_point, (int, np.integer)) or int(zero_point) != expected_zero:
            return False
    return True


int8_parameters = Exercise(
    "8.2",
    "Write affine(low, high) returning (scale, zero_point) that map a float range onto uint8 "
    "0..255 as x = scale * (q - zero_point). The range must contain 0 (widen it if not), so "
    "that 0.0 is stored exactly; zero_point is an int in 0..255.",
    _judge_affine,
    hint="Widen first: low = min(low, 0), high = max(high, 0). 256 levels make 255 steps. "
         "The zero point is the integer that 0.0 maps to: round(-low / scale).",
    solution="low, high = min(low, 0.0), max(high, 0.0); scale = (high - low) / 255; "
             "return scale, int(min(255, max(0, round(-low / scale))))",
    blocked=("course_utils.deployment.quantize.affine_parameters",),
)

# ---------------------------------------------------------------- 8.3 MMD by hand


def _reference_mmd2(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    def gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        squared = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-squared / (2 * sigma**2))

    n, m = len(x), len(y)
    kxx, kyy = gram(x, x), gram(y, y)
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * gram(x, y).mean())


def _judge_mmd(mmd2: Callable) -> bool:
    rng = np.random.default_rng(83)
    for n, m, d, sigma, shift in ((20, 15, 3, 1.0, 0.0), (12, 30, 5, 2.5, 0.7), (25, 25, 2, 0.6, 1.5)):
        x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + shift
        got = mmd2(torch.tensor(x), torch.tensor(y), sigma)
        if not math.isclose(float(got), _reference_mmd2(x, y, sigma), rel_tol=1e-6, abs_tol=1e-9):
            return False
    return True


mmd_by_hand = Exercise(
    "8.3",
    "Write mmd2(x, y, sigma): the unbiased estimate of MMD^2 between samples x (n, d) and "
    "y (m, d) with the kernel k(a, b) = exp(-||a - b||^2 / (2 sigma^2)): the mean of k over "
    "pairs i != j within x, plus the same within y, minus twice the mean of k(x_i, y_j).",
    _judge_mmd,
    hint="torch.cdist(x, y) ** 2 gives all squared distances. 'Unbiased' leaves out the "
         "diagonal k(x_i, x_i) = 1: divide the off-diagonal sum by n (n - 1), not n^2.",
    solution="k = lambda a, b: torch.exp(-torch.cdist(a, b) ** 2 / (2 * sigma**2)); n, m = len(x), len(y); "
             "return (k(x, x).sum() - n) / (n * (n - 1)) + (k(y, y).sum() - m) / (m * (m - 1)) "
             "- 2 * k(x, y).mean()",
    blocked=("course_utils.deployment.drift.mmd_test",),
)

# ---------------------------------------------------------------- 8.4 a permutation p-value


def _judge_p_value(p_value: Callable) -> bool:
    rng = np.random.default_rng(84)
    for observed, permuted in ((3.0, rng.integers(0, 6, 99).astype(float)),   # ties with the observed
                               (10.0, rng.normal(size=199)),                      # more extreme than all
                               (-1.0, rng.normal(size=49))):
        expected = (1 + np.sum(permuted >= observed)) / (1 + len(permuted))
        if not math.isclose(float(p_value(observed, permuted.copy())), expected, rel_tol=1e-9):
            return False
    return True


permutation_p_value = Exercise(
    "8.4",
    "Write p_value(observed, permuted): the permutation p-value of a statistic (large means "
    "different), given the values it took on the shuffled samples. Count the observed split "
    "as one of the permutations, so that the p-value is never 0.",
    _judge_p_value,
    hint="Under 'no drift' the observed split is just one more permutation: (1 + number of "
         "permuted values at least as large) / (1 + number of permutations). Ties count.",
    solution="return (1 + np.sum(np.asarray(permuted) >= observed)) / (1 + len(permuted))",
)

EXERCISES = [calibrated_decision, int8_parameters, mmd_by_hand, permutation_p_value]
