"""Measuring and training robustness: accuracy under attack, robustness curves, adversarial batches.

An *attack* here is any function ``attack(model, images, labels) -> adversarial images``;
:func:`make_attack` builds the usual ones from :mod:`course_utils.robustness.attacks`.

>>> import torch
>>> from course_utils.models.backbones import SmallCNN
>>> model = SmallCNN().eval()
>>> x, y = torch.rand(8, 1, 28, 28), torch.arange(8)
>>> clean = robust_accuracy(model, x, y)
>>> attacked = robust_accuracy(model, x, y, make_attack("pgd", eps=0.1, steps=3))
>>> 0.0 <= attacked <= 1.0
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial

import torch
import torch.nn as nn

from ..data.transforms import to_float
from .attacks import eval_mode, fgsm, pgd, pgd_restarts

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
ATTACK_NAMES = ("fgsm", "fgsm_rs", "pgd")


def make_attack(name: str, eps: float, steps: int = 10, alpha: float | None = None,
                norm: str = "linf", generator: torch.Generator | None = None,
                restarts: int = 1) -> Attack:
    """An attack by name, with the step sizes the literature uses by default.

    - ``"fgsm"``: one signed step of size ``eps`` (Goodfellow et al., 2015).
    - ``"fgsm_rs"``: a random start in the ball, then one step of ``1.25 * eps``, projected
      ("Fast is better than free", Wong et al., 2020): cheap adversarial training.
    - ``"pgd"``: ``steps`` steps of ``alpha`` (default ``2.5 * eps / steps``) from a random
      start (Madry et al., 2018); ``norm`` is ``"linf"`` or ``"l2"``. With ``restarts > 1``,
      the strongest of that many random starts per example (:func:`pgd_restarts`).

    For research claims, the standard evaluation is AutoAttack (Croce & Hein, 2020): an
    ensemble of parameter-free attacks that catches many cases where PGD alone overestimates
    robustness.

    >>> attack = make_attack("fgsm", eps=8 / 255)
    >>> attack.keywords["eps"] == 8 / 255
    True
    """
    if restarts < 1:
        raise ValueError(f"restarts must be at least 1, got {restarts}")
    if name == "fgsm":
        return partial(fgsm, eps=eps)
    if name == "fgsm_rs":
        return partial(pgd, eps=eps, alpha=1.25 * eps, steps=1, norm=norm, random_start=True,
                       generator=generator)
    if name == "pgd":
        step = alpha if alpha is not None else 2.5 * eps / steps
        if restarts > 1:
            return partial(pgd_restarts, restarts=restarts, eps=eps, alpha=step, steps=steps,
                           norm=norm, random_start=True, generator=generator)
        return partial(pgd, eps=eps, alpha=step, steps=steps, norm=norm, random_start=True,
                       generator=generator)
    raise ValueError(f"unknown attack {name!r}; choose from {ATTACK_NAMES}")


def adversarial_examples(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                         attack: Attack, batch_size: int = 500) -> torch.Tensor:
    """``attack`` applied to ``images`` in batches of ``batch_size``, on the model's device.

    Returns float images in [0, 1] on that device (``images`` may be uint8).

    >>> from course_utils.models.backbones import SmallCNN
    >>> x_adv = adversarial_examples(SmallCNN(), torch.rand(6, 1, 28, 28), torch.arange(6),
    ...                              make_attack("fgsm", eps=0.1), batch_size=4)
    >>> x_adv.shape
    torch.Size([6, 1, 28, 28])
    """
    device = next(model.parameters()).device
    batches = []
    for start in range(0, len(labels), batch_size):
        x = to_float(images[start:start + batch_size].to(device))
        batches.append(attack(model, x, labels[start:start + batch_size].to(device)))
    return torch.cat(batches)


def robust_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                    attack: Attack | None = None, batch_size: int = 500,
                    adversarial: torch.Tensor | None = None) -> float:
    """Accuracy of ``model`` on ``images`` after ``attack`` (clean accuracy when ``attack`` is None).

    An example counts as robust only if the model is right on it both before and after the
    attack (a randomly started attack can land on a right answer the clean image did not
    get). ``adversarial`` gives ready-made attacked images instead of ``attack`` (examples
    made on another model, for transfer), one per image, in the same order. Works through
    ``batch_size`` images at a time on the model's device, in eval mode; ``images`` may be
    uint8 or float in [0, 1].

    >>> from course_utils.models.backbones import SmallCNN
    >>> model, x, y = SmallCNN().eval(), torch.rand(6, 1, 28, 28), torch.arange(6)
    >>> robust_accuracy(model, x, y, adversarial=x) == robust_accuracy(model, x, y)
    True
    """
    if attack is not None and adversarial is not None:
        raise ValueError("give either attack or adversarial images, not both")
    if adversarial is not None and adversarial.shape != images.shape:
        raise ValueError(f"adversarial images have shape {tuple(adversarial.shape)}, "
                         f"the clean ones {tuple(images.shape)}")
    device = next(model.parameters()).device
    correct = 0
    with eval_mode(model):
        for start in range(0, len(labels), batch_size):
            x = to_float(images[start:start + batch_size].to(device))
            y = labels[start:start + batch_size].to(device)
            with torch.no_grad():
                right = model(x).argmax(1) == y
            if attack is not None or adversarial is not None:
                x_adv = (attack(model, x, y) if attack is not None
                         else to_float(adversarial[start:start + batch_size].to(device)))
                with torch.no_grad():
                    right &= model(x_adv).argmax(1) == y
            correct += right.sum().item()
    return correct / len(labels)


def robustness_curve(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     eps_values: Sequence[float], name: str = "pgd", **attack_options) -> list[float]:
    """Accuracy under the attack ``name`` at each budget in ``eps_values`` (eps 0: clean).

    ``attack_options`` go to :func:`make_attack` (``steps``, ``norm``, ...).

    >>> from course_utils.models.backbones import SmallCNN
    >>> curve = robustness_curve(SmallCNN(), torch.rand(4, 1, 28, 28), torch.arange(4), [0, 0.1], "fgsm")
    >>> len(curve)
    2
    """
    return [robust_accuracy(model, images, labels,
                            make_attack(name, eps, **attack_options) if eps > 0 else None)
            for eps in eps_values]


class AdversarialBatches:
    """Wrap a loader of ``(X, y)`` batches so each batch is attacked against ``model`` first.

    The attack sees the model's *current* weights, so passing this to
    :func:`~course_utils.training.fit` as the training loader is adversarial training;
    as the validation loader it gives robust validation accuracy.

    >>> from course_utils.models.backbones import SmallCNN
    >>> from course_utils.data.loaders import DeviceLoader
    >>> model = SmallCNN()
    >>> loader = DeviceLoader(torch.zeros(8, 1, 28, 28, dtype=torch.uint8), torch.arange(8), batch_size=4)
    >>> batches = AdversarialBatches(loader, model, make_attack("fgsm_rs", eps=0.1))
    >>> len(batches), float(next(iter(batches))[0].max()) <= 0.1 + 1e-6
    (2, True)
    """

    def __init__(self, loader: Iterable, model: nn.Module, attack: Attack):
        self.loader, self.model, self.attack = loader, model, attack
        if hasattr(loader, "labels"):  # ``fit`` checks all labels against the head
            self.labels = loader.labels

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = next(self.model.parameters()).device
        for x, y in self.loader:
            x, y = x.to(device), y.to(device)
            yield self.attack(self.model, x, y), y
