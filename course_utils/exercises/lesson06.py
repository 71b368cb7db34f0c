"""Checkers for lesson 06, multi-task learning.

>>> settled_weight.check(lambda L: 1 / (2 * L))
Exercise 6.3: correct.
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import Exercise

# ---------------------------------------------------------------- 6.1 the weighted multi-task loss


def _reference_loss(outputs: dict, labels: torch.Tensor, weights: dict) -> torch.Tensor:
    total = torch.zeros(())
    for column, (task, logits) in enumerate(outputs.items()):
        known = labels[:, column] != -1
        if known.any():
            total = total + weights[task] * F.cross_entropy(logits[known], labels[known, column])
    return total


def _loss_cases() -> list[tuple[dict, torch.Tensor, dict]]:
    generator = torch.Generator().manual_seed(61)
    cases = []
    for sizes, weights in (({"fine": 10, "coarse": 4}, {"fine": 1.0, "coarse": 0.3}),
                           ({"a": 3, "b": 5, "c": 2}, {"a": 2.0, "b": 0.5, "c": 1.0})):
        outputs = {t: torch.randn(12, n, generator=generator) for t, n in sizes.items()}
        columns = [torch.randint(0, n, (12,), generator=generator) for n in sizes.values()]
        labels = torch.stack(columns, 1)
        labels[torch.rand(12, len(sizes), generator=generator) < 0.4] = -1  # missing labels
        cases.append((outputs, labels, weights))
    outputs, labels, weights = cases[0]
    labels = labels.clone()
    labels[:, 1] = -1  # a task without a single label in the batch: contributes 0, not NaN
    cases.append((outputs, labels, weights))
    return cases


def _judge_loss(weighted_loss: Callable) -> bool:
    for outputs, labels, weights in _loss_cases():
        got = torch.as_tensor(weighted_loss(outputs, labels.clone(), weights), dtype=torch.float32)
        if not torch.isfinite(got) or not torch.allclose(got, _reference_loss(outputs, labels, weights), atol=1e-5):
            return False
    return True


weighted_loss = Exercise(
    "6.1",
    "Write weighted_loss(outputs, labels, weights): for each task t (in the order of outputs, "
    "column t of labels), the mean cross-entropy over the examples whose label is not -1, "
    "times weights[t]; return the sum (a task with no label in the batch adds 0).",
    _judge_loss,
    hint="Loop with enumerate(outputs.items()); keep the rows where labels[:, column] != -1 and "
         "skip a task when there is none (F.cross_entropy of an empty batch is NaN).",
    solution="total = 0\nfor column, (task, logits) in enumerate(outputs.items()):\n"
             "    known = labels[:, column] != -1\n    if known.any():\n"
             "        total = total + weights[task] * F.cross_entropy(logits[known], labels[known, column])\n"
             "return total",
    blocked=("course_utils.evaluation.multitask.task_losses",),
)

# ---------------------------------------------------------------- 6.2 PCGrad's projection

_PAIRS = [([1.0, 0.0], [-1.0, 1.0]), ([2.0, 1.0, 0.0], [-1.0, 0.0, 3.0]),  # conflicting
          ([1.0, 2.0], [3.0, -1.0]), ([0.5, -1.0, 2.0], [1.0, 1.0, 1.0])]  # not conflicting


def _reference_projection(g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    dot = g @ h
    return g - dot / (h @ h) * h if dot < 0 else g


def _judge_projection(project: Callable) -> bool:
    for g, h in _PAIRS:
        g, h = torch.tensor(g), torch.tensor(h)
        got = torch.as_tensor(project(g.clone(), h.clone()), dtype=torch.float32)
        if got.shape != g.shape or not torch.allclose(got, _reference_projection(g, h), atol=1e-6):
            return False
    return True


pcgrad_projection = Exercise(
    "6.2",
    "Write project(g, h): if g . h < 0, return g minus its component along h; otherwise g unchanged.",
    _judge_projection,
    hint="The component of g along h is (g . h) / (h . h) * h. Remove it only when g . h is negative: "
         "gradients that agree are left alone.",
    solution="dot = g @ h\nreturn g - dot / (h @ h) * h if dot < 0 else g",
    blocked=("course_utils.training.gradients.project_conflicting", "course_utils.training.gradients.pcgrad"),
)

# ---------------------------------------------------------------- 6.3 where uncertainty weighting settles


def _judge_settled(settled: Callable) -> bool:
    return all(math.isclose(float(settled(L)), 1 / (2 * L), rel_tol=1e-6) for L in (0.05, 0.5, 1.0, 2.3))


settled_weight = Exercise(
    "6.3",
    "Write settled_weight(L): the weight exp(-s) at the s where d/ds (exp(-s) L + s/2) = 0.",
    _judge_settled,
    hint="The derivative is -exp(-s) L + 1/2. Set it to zero and solve for exp(-s), not for s.",
    solution="return 1 / (2 * L)",
)

# ---------------------------------------------------------------- 6.4 gradient cosine by hand


def _cosine_case():
    from ..models.backbones import SmallCNN
    from ..models.multitask import MultiTaskModel

    torch.manual_seed(64)
    model = MultiTaskModel.from_classifier(SmallCNN(widths=(4, 8, 8)), {"fine": 10, "coarse": 4})
    x = torch.rand(16, 1, 28, 28)
    labels = torch.stack([torch.arange(16) % 10, torch.arange(16) % 4], 1)
    return model, x, labels


def _reference_cosine(model, x, labels) -> float:
    outputs = model(x)
    shared = model.shared_parameters()
    grads = []
    for column, logits in enumerate(outputs.values()):
        parts = torch.autograd.grad(F.cross_entropy(logits, labels[:, column]), shared, retain_graph=True)
        grads.append(torch.cat([g.reshape(-1) for g in parts]))
    return float(grads[0] @ grads[1] / (grads[0].norm() * grads[1].norm()))


def _judge_cosine(task_cosine: Callable) -> bool:
    model, x, labels = _cosine_case()
    expected = _reference_cosine(model, x, labels)
    model.zero_grad()
    got = float(task_cosine(model, x, labels))
    return math.isclose(got, expected, abs_tol=1e-4)


task_cosine = Exercise(
    "6.4",
    "Write task_cosine(model, x, labels): the cosine similarity between the gradients of the two "
    "tasks' cross-entropies with respect to model.shared_parameters() (all of them, flattened into "
    "one vector per task).",
    _judge_cosine,
    hint="outputs = model(x); for each task, torch.autograd.grad(loss_t, shared, retain_graph=True) "
         "gives one gradient per parameter: flatten and concatenate them. Heads are not shared: "
         "leave them out.",
    solution="outputs = model(x); shared = model.shared_parameters(); g = []\n"
             "for column, logits in enumerate(outputs.values()):\n"
             "    parts = torch.autograd.grad(F.cross_entropy(logits, labels[:, column]), shared, retain_graph=True)\n"
             "    g.append(torch.cat([p.reshape(-1) for p in parts]))\n"
             "return float(g[0] @ g[1] / (g[0].norm() * g[1].norm()))",
    blocked=("course_utils.training.gradients.task_gradients", "course_utils.training.gradients.cosine",
             "course_utils.training.gradients.pairwise_cosines"),
)

EXERCISES = [weighted_loss, pcgrad_projection, settled_weight, task_cosine]
