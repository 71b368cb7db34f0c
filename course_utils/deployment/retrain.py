"""Periodic re-transfer: fine-tune the deployed model v1 into v2 on a few images of the new data.

When the inputs drift (a new scanner), a few labelled images of the new distribution can
adapt the model: the same transfer as before, now from v1 instead of from ImageNet. Trained
on new images alone, a network can *forget* the old distribution (catastrophic forgetting,
McCloskey and Cohen 1989); *replay* mixes stored old images into every epoch to prevent it.
Measure both distributions before promoting v2.

>>> v2 = retransfer(v1, new_images, replay=old_images, version="2.0.0")   # doctest: +SKIP
>>> scores(v2, old_test), scores(v2, new_test)                            # doctest: +SKIP
"""

from __future__ import annotations

import copy
from dataclasses import asdict

import torch

from ..data.datasets import LabeledImages
from ..evaluation.clinical import roc_auc
from ..training.loop import FitConfig
from .predictor import Predictor
from .starter import fine_tune


def bump(version: str, part: str = "major") -> str:
    """The next version: ``bump("1.4.2")`` is ``"2.0.0"``, ``bump("1.4.2", "minor")`` is ``"1.5.0"``.

    >>> bump("1.4.2"), bump("1.4.2", "minor"), bump("1.4.2", "patch")
    ('2.0.0', '1.5.0', '1.4.3')
    """
    major, minor, patch = (int(p) for p in version.split("."))
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    if part == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError(f"part must be 'major', 'minor' or 'patch', got {part!r}")


def concat(*parts: LabeledImages) -> LabeledImages:
    """One data set from several with the same classes."""
    return LabeledImages(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                         parts[0].classes)


def retransfer(predictor: Predictor, new: LabeledImages, replay: LabeledImages | None = None,
               epochs: int = 10, lr: float = 1e-3, backbone_lr: float = 1e-4, batch_size: int = 32,
               seed: int = 0, version: str | None = None) -> Predictor:
    """Fine-tune a copy of ``predictor``'s network on ``new`` (plus ``replay`` old images, if
    given) and return it as a new version. Temperature and threshold are kept from v1: a
    handful of new images is too few to refit them reliably.
    """
    model = copy.deepcopy(predictor.model).train()
    data = concat(new, replay) if replay is not None else new
    config = FitConfig(epochs=epochs, lr=lr, backbone_lr=backbone_lr, progress=False)
    history = fine_tune(model, data, None, config, int(predictor.preprocessing["input_size"]),
                        batch_size=batch_size, seed=seed)
    record = {"parent": predictor.version, "new_images": len(new),
              "replay_images": 0 if replay is None else len(replay),
              "config": asdict(config) | {"seed": seed, "batch_size": batch_size},
              "final_train_loss": history.train_loss[-1]}
    lineage = predictor.metadata.get("lineage", []) + [record]
    return predictor.replace(model=model.eval(), version=version or bump(predictor.version),
                             metadata={"lineage": lineage})


@torch.no_grad()
def scores(predictor: Predictor, data: LabeledImages) -> dict[str, float]:
    """Accuracy of the predictor's decisions (its threshold) and AUC on ``data``."""
    probs = predictor.probabilities(data.images)
    accuracy = (predictor.decide(probs) == data.labels).float().mean().item()
    return {"accuracy": accuracy, "auc": roc_auc(data.labels, probs[:, 1] if probs.shape[1] == 2 else probs)}
