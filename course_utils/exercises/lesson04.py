"""Checkers for the exercises of lesson 04 (adversarial examples and adversarial training).

Each checker is an :class:`~course_utils.exercises.Exercise`: call ``.check(answer)``.

>>> linear_budget.check(lambda w, eps: eps * w.abs().sum())
Exercise 1 (the linear budget): correct.
True
>>> spot_masking.check("A")  # doctest: +ELLIPSIS
Exercise 5 (spot the masking): not yet. Hint: ...
False
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.conventions import convention_for
from . import Exercise


def _judge_linear_budget(fn: Callable[[torch.Tensor, float], float]) -> bool:
    generator = torch.Generator().manual_seed(0)
    for d, eps in ((5, 0.1), (784, 8 / 255), (3, 1.0)):
        w = torch.randn(d, generator=generator, dtype=torch.float64)
        got = fn(w.clone(), eps)
        if got is None:
            return False
        expected = eps * w.abs().sum().item()
        if abs(float(got) - expected) > 1e-6 * max(1.0, abs(expected)):
            return False
    return True


linear_budget = Exercise(
    "1 (the linear budget)",
    "Write max_linear_change(w, eps): the largest w @ eta over all eta with |eta_i| <= eps.",
    _judge_linear_budget,
    hint="Each term w_i * eta_i is largest at eta_i = eps * sign(w_i), giving eps * |w_i|; sum them.",
    solution="def max_linear_change(w, eps): return eps * w.abs().sum()",
)


def project_l2_reference(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """The checker's own projection (the course's ``project`` is blocked while an answer runs;
    ``tests/test_exercises_lesson04.py`` checks the two agree)."""
    length = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return delta * (eps / length).clamp(max=1.0).view(-1, *[1] * (delta.ndim - 1))


def _judge_l2_projection(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> bool:
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor([0.1, 0.5, 0.99, 1.5, 4.0, 20.0], dtype=torch.float64)
    for shape, eps in (((6, 10), 1.0), ((6, 1, 4, 4), 0.5), ((6, 3, 2, 2), 3.0)):  # eps must matter
        direction = torch.randn(shape, generator=generator, dtype=torch.float64)
        direction = direction / direction.flatten(1).norm(dim=1).view(-1, *[1] * (len(shape) - 1))
        delta = direction * lengths.view(-1, *[1] * (len(shape) - 1))
        got = fn(delta.clone(), eps)
        if got is None:
            return False
        got = torch.as_tensor(got, dtype=torch.float64)
        if got.shape != delta.shape or not torch.allclose(got, project_l2_reference(delta, eps), atol=1e-6):
            return False
    return True


l2_projection = Exercise(
    "2 (the L2 projection)",
    "Write project_l2(delta, eps): each example of delta (first axis) unchanged if its L2 "
    "length is at most eps, else scaled to length eps.",
    _judge_l2_projection,
    hint="Per example: length = delta.flatten(1).norm(dim=1); multiply by min(1, eps / length), "
         "reshaped to (N, 1, 1, ...) so it broadcasts. Short vectors must stay as they are.",
    solution="def project_l2(delta, eps):\n"
             "    length = delta.flatten(1).norm(dim=1).clamp_min(1e-12)\n"
             "    scale = (eps / length).clamp(max=1.0)\n"
             "    return delta * scale.view(-1, *[1] * (delta.ndim - 1))",
    blocked=("course_utils.robustness.attacks.project",),
)


def _judge_normalised_budget(answer) -> bool:
    got = torch.as_tensor(answer, dtype=torch.float64).flatten()
    expected = (8 / 255) / torch.tensor(convention_for("resnet18").std, dtype=torch.float64)
    return got.shape == expected.shape and torch.allclose(got, expected, rtol=2e-3)


normalised_budget = Exercise(
    "3 (a budget in normalised units)",
    "Give the three per-channel L-inf budgets in z = (x - mean) / std that match eps = 8/255 "
    "in pixels, for torchvision's ResNet18 (std = 0.229, 0.224, 0.225).",
    _judge_normalised_budget,
    hint="A change of eps in x is a change of eps / std_c in z: divide, do not multiply "
         "(the budgets are about 4.4 times larger than 8/255).",
    solution="budget_in_z = [(8 / 255) / s for s in (0.229, 0.224, 0.225)]",
)


def _tiny_classifier() -> nn.Module:
    with torch.random.fork_rng():  # a fixed model, without touching the learner's random state
        torch.manual_seed(4)
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).eval()


def targeted_fgsm_reference(model: nn.Module, x: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    """The checker's own targeted step (the course's ``fgsm`` is blocked while an answer runs;
    ``tests/test_exercises_lesson04.py`` checks the two agree)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x), target, reduction="sum"), x)
    return (x - eps * grad.sign()).clamp(0, 1).detach()


def _judge_targeted_step(fn: Callable[..., torch.Tensor]) -> bool:
    model = _tiny_classifier()
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(6, 1, 8, 8, generator=generator)
    x[0] = 0.0  # an all-black image: the clip to [0, 1] matters here
    x[1] = 1.0
    target = torch.tensor([4, 3, 2, 1, 0, 4])
    for eps in (0.03, 0.2):
        got = fn(model, x.clone(), target.clone(), eps)
        if got is None:
            return False
        got = torch.as_tensor(got).detach().float()
        if got.shape != x.shape or not torch.allclose(got, targeted_fgsm_reference(model, x, target, eps), atol=1e-6):
            return False
    return True


targeted_step = Exercise(
    "4 (one targeted step)",
    "Write targeted_fgsm(model, x, target, eps): one FGSM step toward the classes `target`, "
    "pixels kept in [0, 1].",
    _judge_targeted_step,
    hint="Compute the gradient of F.cross_entropy(model(x), target, reduction='sum') with respect "
         "to x, step *down* it: x - eps * grad.sign(), then .clamp(0, 1).",
    solution="def targeted_fgsm(model, x, target, eps):\n"
             "    x = x.clone().requires_grad_(True)\n"
             "    loss = F.cross_entropy(model(x), target, reduction='sum')\n"
             "    (grad,) = torch.autograd.grad(loss, x)\n"
             "    return (x - eps * grad.sign()).clamp(0, 1).detach()",
    blocked=("course_utils.robustness.attacks.fgsm", "course_utils.robustness.attacks.pgd",
             "course_utils.robustness.attacks.input_gradient"),
)

spot_masking = Exercise(
    "5 (spot the masking)",
    'Which defence (answer "A", "B" or "C") shows the signs of gradient masking?',
    lambda answer: str(answer).strip().strip('"').upper() == "B",
    hint="Look for an iterative attack that is no stronger than a one-step one, and a transfer "
         "attack that beats the white-box attacks.",
    solution='"B": its multi-step PGD is no stronger than one FGSM step, and an attack crafted on '
             "another model hurts it more than attacks on its own gradients: its gradients are "
             "uninformative, not its decisions robust.",
)
