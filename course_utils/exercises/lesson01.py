"""Checkers for the exercises of lesson 01 (the mathematics of transfer learning).

Each checker is an :class:`~course_utils.exercises.Exercise`: call ``.check(answer)``.

>>> import torch
>>> softmax_grad.check(lambda z, y: (torch.softmax(z, 1) - torch.eye(z.shape[1])[y]) / len(y))
Exercise 1 (softmax gradient): correct.
True
>>> loss_floor.check(lambda k: 0.5)  # doctest: +ELLIPSIS
Exercise 3 (the Softmax-before-CrossEntropyLoss floor): not yet. Hint: ...
False
>>> stable_bce.check(lambda z, y: -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z))))
... # doctest: +ELLIPSIS
Exercise 5 (binary cross-entropy from logits, without overflow): not yet. Hint: ...
False
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import Exercise


def _cases(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A few (logits, labels) batches in float64, including confident (large) logits."""
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for n, k, scale in ((5, 3, 1.0), (8, 10, 3.0), (4, 4, 20.0)):
        z = scale * torch.randn(n, k, generator=generator, dtype=torch.float64)
        y = torch.randint(0, k, (n,), generator=generator)
        cases.append((z, y))
    return cases


def _judge_softmax_grad(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    for z, y in _cases():
        got = fn(z.clone(), y.clone())
        if got is None:
            return False
        z_ = z.clone().requires_grad_(True)
        F.cross_entropy(z_, y).backward()
        got = torch.as_tensor(got, dtype=torch.float64)
        if got.shape != z.shape or not torch.allclose(got, z_.grad, rtol=1e-6, atol=1e-9):
            return False
    return True


softmax_grad = Exercise(
    "1 (softmax gradient)",
    "Write softmax_ce_grad(z, y): the gradient of F.cross_entropy(z, y) (mean over the batch) "
    "with respect to the logits z of shape (N, K); y holds N class indices.",
    _judge_softmax_grad,
    hint="Start from one example: Section 3 derived dl/dz_k = p_k - 1[k = y]. The loss of the batch "
         "is the mean of N such losses.",
    solution="(torch.softmax(z, dim=1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / len(y)",
)


def _judge_sgd_step(fn: Callable[..., torch.Tensor]) -> bool:
    generator = torch.Generator().manual_seed(1)
    for lr, weight_decay in ((0.1, 0.0), (0.05, 0.01), (0.5, 0.2)):
        theta = torch.randn(6, generator=generator, dtype=torch.float64)
        grad = torch.randn(6, generator=generator, dtype=torch.float64)
        reference = theta.clone().requires_grad_(True)
        reference.grad = grad.clone()
        torch.optim.SGD([reference], lr=lr, weight_decay=weight_decay).step()
        got = fn(theta.clone(), grad.clone(), lr, weight_decay)
        if got is None:
            return False
        got = torch.as_tensor(got, dtype=torch.float64)
        if got.shape != theta.shape or not torch.allclose(got, reference.detach(), atol=1e-12):
            return False
    return True


sgd_step = Exercise(
    "2 (SGD with weight decay)",
    "Write sgd_step(theta, grad, lr, weight_decay) returning the parameters after one step of "
    "torch.optim.SGD(lr=lr, weight_decay=weight_decay) (no momentum).",
    _judge_sgd_step,
    hint="torch.optim.SGD adds weight_decay * theta to the gradient, then steps against it.",
    solution="theta - lr * (grad + weight_decay * theta)   # the decay uses the old theta",
)


def softmax_ce_floor(num_classes: int) -> float:
    """Smallest value of cross-entropy applied to probabilities instead of logits.

    With ``p = softmax(z)`` fed to ``cross_entropy``, the loss is ``-p_y + log sum_j exp(p_j)``,
    smallest at ``p = one_hot(y)``: ``log(1 + (K - 1) / e)``.

    >>> round(softmax_ce_floor(10), 4)
    1.4612
    """
    return math.log(1 + (num_classes - 1) / math.e)


def _judge_loss_floor(fn: Callable[[int], float]) -> bool:
    for k in (2, 5, 10, 100):
        got = fn(k)
        if got is None or abs(float(got) - math.log(1 + (k - 1) / math.e)) > 1e-6:
            return False
    return True


loss_floor = Exercise(
    "3 (the Softmax-before-CrossEntropyLoss floor)",
    "A K-class model ends in nn.Softmax and is trained with nn.CrossEntropyLoss. Write "
    "loss_floor(K): the smallest loss it can ever reach (a float).",
    _judge_loss_floor,
    hint="The loss is smallest when the model is perfectly confident and right. What is p then, "
         "and what does CrossEntropyLoss do to the p it is given?",
    solution="p = one_hot(y), and CrossEntropyLoss computes -p_y + log(sum_j exp(p_j)) on it: "
             "-1 + math.log(math.e + K - 1), which is math.log(1 + (K - 1) / math.e)",
    blocked=("course_utils.exercises.lesson01.softmax_ce_floor",),
)


def _judge_first_step(answer) -> bool:
    adam_l2, adamw = (float(v) for v in answer)
    return abs(adam_l2 - 0.99) < 1e-4 and abs(adamw - 0.999) < 1e-5


adam_first_step = Exercise(
    "4 (Adam + L2 versus AdamW)",
    "A weight equals 1.0 and the loss does not depend on it (its data gradient is 0). "
    "lr = 0.01, weight_decay = 0.1. Give (value after one step of torch.optim.Adam, "
    "value after one step of torch.optim.AdamW) as a tuple of two floats.",
    _judge_first_step,
    hint="Where does the decay enter? In Adam + L2 it is part of the gradient, which Adam then "
         "divides by its own size; in AdamW it is applied to the weight directly.",
    solution="Adam: g = 0.1 * 1.0, m_hat = g, sqrt(v_hat) = |g|, so the step is lr: 1.0 - 0.01 = 0.99. "
             "AdamW: the Adam part is 0 and the weight shrinks by lr * weight_decay: "
             "1.0 * (1 - 0.01 * 0.1) = 0.999. Answer (0.99, 0.999).",
)

def _bce_exact(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # -[y log sigma(z) + (1 - y) log(1 - sigma(z))] = max(z, 0) - z y + log(1 + exp(-|z|)):
    # exp never gets a positive argument, so nothing overflows (the checker's reference)
    return z.clamp_min(0) - z * y + torch.log1p(torch.exp(-z.abs()))


# float32 logits from mild to absurdly confident, both signs; labels 0, 1 and a soft 0.3
_LOGITS = torch.tensor([-1000.0, -100.0, -30.0, -5.0, -0.5, 0.0, 0.5, 5.0, 30.0, 100.0, 1000.0])


def _judge_stable_bce(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    for label in (0.0, 1.0, 0.3):
        y = torch.full_like(_LOGITS, label)
        got = fn(_LOGITS.clone(), y.clone())
        if got is None:
            return False
        got = torch.as_tensor(got, dtype=torch.float64)
        expected = _bce_exact(_LOGITS.double(), y.double())
        if got.shape != _LOGITS.shape or not torch.isfinite(got).all():
            return False
        if not torch.allclose(got, expected, rtol=1e-5, atol=1e-6):
            return False
    return True


stable_bce = Exercise(
    "5 (binary cross-entropy from logits, without overflow)",
    "Write stable_bce(z, y): the per-example binary cross-entropy of float32 logits z and labels "
    "y (same shape, no mean), correct and finite for any z, even z = +-1000. PyTorch's "
    "F.binary_cross_entropy_with_logits is blocked: build it yourself.",
    _judge_stable_bce,
    hint="-log sigma(z) = log(1 + exp(-z)) overflows only when z is very negative, and "
         "-log(1 - sigma(z)) = z + log(1 + exp(-z)). Rewrite the loss so that exp only ever "
         "sees -|z|.",
    solution="z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))   "
             "# max(z, 0) - z y + log(1 + e^-|z|)",
    blocked=("torch.nn.functional.binary_cross_entropy_with_logits",),
)

EXERCISES = [softmax_grad, sgd_step, loss_floor, adam_first_step, stable_bce]
