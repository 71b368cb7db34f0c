"""Gradient conflict between tasks, and PCGrad (Yu et al. 2020), on the shared parameters.

Each task ``t`` pulls the shared parameters along its own gradient ``g_t``. Two tasks
*conflict* when their gradients point in opposing directions: ``cos(g_a, g_b) < 0``.
Summing them then cancels part of each. PCGrad ("projecting conflicting gradients")
removes, from each task's gradient, its component along any other task's gradient it
conflicts with:

    if g_i . g_j < 0:   g_i <- g_i - (g_i . g_j) / |g_j|^2 * g_j

and the update uses the sum of the projected gradients.

>>> import torch
>>> g = {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([-1.0, 1.0])}
>>> round(cosine(g["a"], g["b"]), 4)
-0.7071
>>> pcgrad(g).tolist()                          # a -> (0.5, 0.5), b -> (0, 1)
[0.5, 1.5]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two flat gradients (0 if either is zero)."""
    norms = a.norm() * b.norm()
    return float(a @ b / norms) if norms > 0 else 0.0


def task_gradients(terms: Mapping[str, torch.Tensor], params: Sequence[torch.Tensor],
                   retain_graph: bool = True) -> dict[str, torch.Tensor]:
    """Each task's gradient with respect to ``params``, flattened into one vector ``(P,)``.

    ``terms`` maps task to its (weighted) loss; a parameter a task does not reach gets zeros.
    """
    grads = {}
    for task, loss in terms.items():
        parts = torch.autograd.grad(loss, params, retain_graph=retain_graph, allow_unused=True)
        grads[task] = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                 for g, p in zip(parts, params)])
    return grads


def pairwise_cosines(grads: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """``{"a/b": cos(g_a, g_b)}`` for every pair of tasks."""
    return {f"{a}/{b}": cosine(grads[a], grads[b]) for a, b in itertools.combinations(grads, 2)}


def project_conflicting(g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``g`` without its component along ``h`` if they conflict (``g . h < 0``); else ``g``.

    >>> project_conflicting(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])).tolist()
    [0.5, 0.5]
    """
    dot = g @ h
    if dot < 0:
        return g - dot / (h @ h) * h
    return g


def pcgrad(grads: Mapping[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
    """The PCGrad update direction: the sum over tasks of each gradient, projected.

    Each task's gradient is projected against every other task's *original* gradient, in a
    random order per task (``generator``), as in Yu et al. (2020), Algorithm 1.
    """
    names = list(grads)
    total = torch.zeros_like(grads[names[0]])
    for name in names:
        g = grads[name].clone()
        others = [n for n in names if n != name]
        for j in torch.randperm(len(others), generator=generator).tolist():
            g = project_conflicting(g, grads[others[j]])
        total += g
    return total


class GradientConflictLoss:
    """A ``loss_fn`` for ``fit`` that also measures the conflict between task gradients.

    Wraps a multi-task loss (anything with ``terms(outputs, labels)``, e.g.
    :class:`~course_utils.training.multitask.WeightedTaskLoss`). Every ``every`` training
    steps it computes each task's gradient on ``shared`` (the backbone's parameters) and
    appends ``{"step": ..., "a/b": cos, ...}`` to ``self.log``. Training is unchanged.
    Outside training (no gradients, as in ``evaluate``) it is the wrapped loss.
    """

    def __init__(self, loss, shared: Sequence[nn.Parameter], every: int = 10):
        self.loss, self.shared, self.every = loss, list(shared), every
        self.log: list[dict[str, float]] = []
        self.step = 0

    def __call__(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        terms = self.loss.terms(outputs, labels)
        total = sum(terms.values())
        if not torch.is_grad_enabled():
            return total
        self.step += 1
        return self.training_loss(terms, total)

    def training_loss(self, terms: Mapping[str, torch.Tensor], total: torch.Tensor) -> torch.Tensor:
        """What a training step differentiates; here the plain total, measured every ``every`` steps."""
        if self.every and self.step % self.every == 0:
            self.record(task_gradients(terms, self.shared))
        return total

    def record(self, grads: Mapping[str, torch.Tensor]) -> None:
        self.log.append({"step": self.step, **pairwise_cosines(grads)})


class PCGradLoss(GradientConflictLoss):
    """A ``loss_fn`` for ``fit`` whose gradient on the shared parameters is PCGrad's.

    Each step computes every task's gradient on all trainable ``params`` (one backward pass
    per task), replaces the shared part by :func:`pcgrad`'s projected sum (the heads keep
    their own task's gradient, which no other task touches) and returns

        value:    sum_t L_t                      (what fit records)
        gradient: the projected gradient         (what fit's backward() produces)

    through the stand-in ``sum_p <p, g_p>`` with ``g`` detached, whose gradient is ``g``.
    Cosines are recorded as in :class:`GradientConflictLoss` (before projection).
    """

    def __init__(self, loss, shared: Sequence[nn.Parameter], params: Sequence[nn.Parameter],
                 every: int = 10, seed: int = 0):
        super().__init__(loss, shared, every)
        shared_ids = {id(p) for p in self.shared}
        self.others = [p for p in params if p.requires_grad and id(p) not in shared_ids]
        self.generator = torch.Generator().manual_seed(seed)

    def training_loss(self, terms: Mapping[str, torch.Tensor], total: torch.Tensor) -> torch.Tensor:
        params = self.shared + self.others
        grads = task_gradients(terms, params, retain_graph=True)
        n_shared = sum(p.numel() for p in self.shared)
        on_shared = {task: g[:n_shared] for task, g in grads.items()}
        if self.every and self.step % self.every == 0:
            self.record(on_shared)
        heads = sum(g[n_shared:] for g in grads.values())  # each head: its own task's gradient
        flat = torch.cat([pcgrad(on_shared, self.generator), heads]).detach()
        stand_in = sum((p * g.view_as(p)).sum() for p, g in zip(params, _split(flat, params)))
        return total.detach() + stand_in - stand_in.detach()


def _split(flat: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.split(flat, [p.numel() for p in params]))
