"""Adversarial attacks in pixel space: FGSM and PGD (L-infinity and L2 balls).

Every attack takes a model that maps pixels in [0, 1] to logits. Put the input
normalisation inside the model (``nn.Sequential(Normalize.like(backbone), backbone)``) so the
attack works where the budget ``eps`` and the valid range [0, 1] are defined.
The result is a new tensor in [0, 1] within ``eps`` of the input; the model's
train/eval modes and its parameters' gradients are left as they were found.

>>> import torch
>>> from course_utils.models.backbones import SmallCNN
>>> model = SmallCNN().eval()
>>> x, y = torch.rand(4, 1, 28, 28), torch.arange(4)
>>> x_adv = pgd(model, x, y, eps=0.1, alpha=0.02, steps=5)
>>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6), bool(x_adv.min() >= 0), bool(x_adv.max() <= 1)
(True, True, True)
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.transforms import to_float
from ..models.surgery import eval_mode

NORMS = ("linf", "l2")


def input_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Gradient of the summed cross-entropy loss with respect to ``images``, in eval mode.

    Summing (not averaging) keeps each example's gradient independent of the batch
    size. Only the input gradient is computed: parameters' ``.grad`` stay untouched.

    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> input_gradient(model, torch.rand(2, 1, 2, 2), torch.tensor([0, 2])).shape
    torch.Size([2, 1, 2, 2])
    """
    x = to_float(images).detach().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        loss = F.cross_entropy(model(x), labels.to(x.device), reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float,
         targeted: bool = False) -> torch.Tensor:
    """Fast Gradient Sign Method: one step of size ``eps`` along the sign of the input gradient.

    ``x' = clip(x + eps * sign(grad_x L(x, y)), 0, 1)``. With ``targeted=True``,
    ``labels`` are the classes to reach and the step goes down the loss instead.

    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> x = torch.full((1, 1, 2, 2), 0.5)
    >>> (fgsm(model, x, torch.tensor([0]), eps=0.1) - x).abs().max().item() <= 0.1 + 1e-6
    True
    """
    x = to_float(images).detach()
    direction = -1.0 if targeted else 1.0
    step = direction * eps * input_gradient(model, x, labels).sign()
    return (x + step).clamp(0, 1)


def step_direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """The steepest-ascent direction of unit size in ``norm``: sign(g), or g / ||g||_2 per example."""
    if norm == "linf":
        return grad.sign()
    if norm == "l2":
        length = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
        return grad / length.view(-1, *[1] * (grad.ndim - 1))
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """The nearest perturbation to ``delta`` inside the ``eps`` ball of ``norm``, per example.

    L-infinity clips each pixel to [-eps, eps]; L2 shrinks a too-long ``delta`` to length ``eps``.

    >>> project(torch.tensor([[3.0, 4.0]]), eps=1.0, norm="l2")
    tensor([[0.6000, 0.8000]])
    """
    if norm == "linf":
        return delta.clamp(-eps, eps)
    if norm == "l2":
        length = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
        factor = (eps / length).clamp(max=1.0)
        return delta * factor.view(-1, *[1] * (delta.ndim - 1))
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def random_in_ball(like: torch.Tensor, eps: float, norm: str,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniform random perturbation inside the ``eps`` ball, one per example of ``like``.

    L2: a Gaussian direction scaled to length ``eps * u ** (1 / d)`` with ``u ~ U(0, 1)``,
    which is uniform in the ball of dimension ``d``.
    """
    where = generator.device if generator is not None else like.device
    shape = like.shape
    if norm == "linf":
        u = torch.rand(shape, generator=generator, device=where, dtype=like.dtype)
        noise = u * eps * 2 - eps
    elif norm == "l2":
        direction = torch.randn(shape, generator=generator, device=where, dtype=like.dtype)
        direction = F.normalize(direction.flatten(1), dim=1).view(shape)
        radius = torch.rand(shape[0], generator=generator, device=where) ** (1.0 / like[0].numel()) * eps
        noise = direction * radius.to(like.dtype).view(-1, *[1] * (len(shape) - 1))
    else:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return noise.to(like.device)


def pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, alpha: float,
        steps: int, norm: str = "linf", random_start: bool = True, targeted: bool = False,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected Gradient Descent: FGSM-like steps of size ``alpha``, each projected into the ball.

    ``x_{t+1} = clip(x + project(x_t + alpha * direction(grad) - x, eps), 0, 1)``, where the
    direction is ``sign(grad)`` for ``norm="linf"`` and ``grad / ||grad||_2`` for ``norm="l2"``.
    ``random_start`` begins at a uniform random point of the ball (drawn from ``generator``,
    or the global seed). ``steps=1, alpha=1.25 * eps`` is "FGSM with random start".

    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> x = torch.full((2, 1, 2, 2), 0.5)
    >>> x_adv = pgd(model, x, torch.tensor([0, 1]), eps=0.5, alpha=0.2, steps=3, norm="l2")
    >>> bool(((x_adv - x).flatten(1).norm(dim=1) <= 0.5 + 1e-5).all())
    True
    """
    norm = norm.lower()
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    x = to_float(images).detach()
    x_adv = x.clone()
    if random_start:
        x_adv = (x + random_in_ball(x, eps, norm, generator)).clamp(0, 1)
    direction = -1.0 if targeted else 1.0
    for _ in range(steps):
        grad = input_gradient(model, x_adv, labels)
        x_adv = x_adv + direction * alpha * step_direction(grad, norm)
        x_adv = (x + project(x_adv - x, eps, norm)).clamp(0, 1)
    return x_adv.detach()


def pgd_restarts(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, restarts: int,
                 **pgd_options) -> torch.Tensor:
    """The strongest of ``restarts`` PGD runs (from different random starts), per example.

    An example keeps the first run that fools the model; while none has, the run with the
    highest loss. More restarts can only lower robust accuracy: if it barely moves, the
    attack has converged (a check for weak attacks and gradient masking). ``pgd_options``
    go to :func:`pgd` (``eps``, ``alpha``, ``steps``, ``norm``, ``generator``, ...).

    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> x = torch.full((2, 1, 2, 2), 0.5)
    >>> pgd_restarts(model, x, torch.tensor([0, 1]), restarts=3, eps=0.1, alpha=0.05, steps=2).shape
    torch.Size([2, 1, 2, 2])
    """
    if restarts < 1:
        raise ValueError(f"restarts must be at least 1, got {restarts}")
    labels = labels.to(images.device)
    best, best_fooled, best_loss = None, None, None
    for _ in range(restarts):
        x_adv = pgd(model, images, labels, **pgd_options)
        with eval_mode(model), torch.no_grad():
            logits = model(x_adv)
        fooled = logits.argmax(1) != labels
        loss = F.cross_entropy(logits, labels, reduction="none")
        if best is None:
            best, best_fooled, best_loss = x_adv, fooled, loss
            continue
        better = (fooled & ~best_fooled) | ((fooled == best_fooled) & ~best_fooled & (loss > best_loss))
        best = torch.where(better.view(-1, *[1] * (x_adv.ndim - 1)), x_adv, best)
        best_fooled, best_loss = best_fooled | fooled, torch.where(better, loss, best_loss)
    return best


def feature_pgd(encoder: nn.Module, images: torch.Tensor, eps: float, alpha: float, steps: int,
                norm: str = "linf", generator: torch.Generator | None = None) -> torch.Tensor:
    """PGD that pushes ``encoder``'s features away from those of the clean ``images``; no labels.

    Maximises ``||encoder(x') - encoder(x)||_2^2`` inside the ``eps`` ball, from a random
    start. The attacker needs only a feature extractor, such as the public pretrained
    backbone that a fine-tuned model started from: the attack on the backbone is then
    transferred to the fine-tuned model, whose weights and head stay unseen.

    >>> encoder = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    >>> x = torch.full((2, 1, 2, 2), 0.5)
    >>> x_adv = feature_pgd(encoder, x, eps=0.1, alpha=0.05, steps=3)
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
    True
    """
    norm = norm.lower()
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    x = to_float(images).detach()
    with eval_mode(encoder), torch.no_grad():
        clean = encoder(x).flatten(1)
    x_adv = (x + random_in_ball(x, eps, norm, generator)).clamp(0, 1)
    for _ in range(steps):
        x_var = x_adv.detach().requires_grad_(True)
        with eval_mode(encoder), torch.enable_grad():
            distance = (encoder(x_var).flatten(1) - clean).pow(2).sum()
            (grad,) = torch.autograd.grad(distance, x_var)
        x_adv = x_adv + alpha * step_direction(grad, norm)
        x_adv = (x + project(x_adv - x, eps, norm)).clamp(0, 1)
    return x_adv.detach()
