"""A PneumoniaMNIST predictor trained from scratch here, when lesson 07's artefact is absent.

The recipe is lesson 07's: EfficientNet-Lite0 with a new 2-class head, every layer training,
the backbone at a tenth of the head's learning rate, BatchNorm frozen, 28 px X-rays upsampled
to 40 px. Then, on the validation set only: a temperature for calibrated probabilities and a
threshold for a target sensitivity. The test set gives the reported metrics with bootstrap
confidence intervals, once.

>>> predictor = train_predictor(train, val, test, epochs=2)    # doctest: +SKIP
>>> predictor.metadata["metrics"]["auc"]                       # doctest: +SKIP
[0.95, 0.93, 0.96]
"""

from __future__ import annotations

import warnings
from dataclasses import asdict

import torch.nn as nn

from ..data.datasets import LabeledImages
from ..data.loaders import DeviceLoader
from ..data.transforms import Augment, ImageNetInput
from ..evaluation.calibration import fit_temperature
from ..evaluation.clinical import clinical_report, threshold_for_sensitivity
from ..models.backbones import load_backbone
from ..models.surgery import replace_head
from ..runtime import seed_everything
from ..training.finetune import freeze_batchnorm
from ..training.history import History
from ..training.loop import FitConfig, fit
from .predictor import Predictor

CLASSES = ["normal", "pneumonia"]
ARCHITECTURE = {"backbone": "efficientnet_lite0", "num_classes": 2}
PREPROCESSING = {"channels": 1, "source_size": 28, "input_size": 40}
DATA = {"name": "PneumoniaMNIST", "source": "MedMNIST v2 (Yang et al., Sci Data 2023)", "license": "CC BY 4.0"}


def fine_tune(model: nn.Module, train: LabeledImages, val: LabeledImages | None, config: FitConfig,
              input_size: int = 40, batch_size: int = 64, seed: int = 0) -> History:
    """Fine-tune ``model`` in place with the course's recipe (frozen BatchNorm, random crops,
    no flips for X-rays); returns the history. Picks the best epoch on ``val`` if given."""
    seed_everything(seed)
    freeze_batchnorm(model)
    device = next(model.parameters()).device
    preprocess = ImageNetInput(input_size, ARCHITECTURE["backbone"])
    train_loader = DeviceLoader.from_data(train, batch_size=batch_size, shuffle=True, seed=seed, device=device,
                                          augment=Augment(padding=2, hflip=False), transform=preprocess)
    val_loader = None if val is None else DeviceLoader.from_data(val, batch_size=512, device=device,
                                                                 transform=preprocess)
    return fit(model, train_loader, val_loader, config)


def train_predictor(train: LabeledImages, val: LabeledImages, test: LabeledImages, epochs: int = 3,
                    seed: int = 0, target_sensitivity: float = 0.95, version: str = "1.0.0",
                    n_resamples: int = 1000, created_by: str = "course_utils.deployment.starter") -> Predictor:
    """Fine-tune Lite0 on ``train``, calibrate on ``val``, measure on ``test``; one :class:`Predictor`."""
    seed_everything(seed)
    model = replace_head(load_backbone(ARCHITECTURE["backbone"]), ARCHITECTURE["num_classes"])
    config = FitConfig(epochs=epochs, lr=1e-3, backbone_lr=1e-4, progress=False)
    fine_tune(model, train, val, config, PREPROCESSING["input_size"], seed=seed)
    predictor = Predictor(model, ARCHITECTURE, PREPROCESSING, CLASSES, version)
    val_logits = predictor.logits(val.images)
    with warnings.catch_warnings():  # fit_temperature's float() of a grad-tracking scalar warns
        warnings.simplefilter("ignore", UserWarning)
        temperature = fit_temperature(val_logits, val.labels)
    val_probs = (val_logits / temperature).softmax(1)[:, 1]
    threshold = threshold_for_sensitivity(val.labels, val_probs, target_sensitivity)
    threshold = min(max(threshold, 1e-6), 1 - 1e-6)  # keep it strictly inside (0, 1)
    test_probs = (predictor.logits(test.images) / temperature).softmax(1)[:, 1]
    report = clinical_report(test.labels, test_probs, threshold, n_resamples=n_resamples, seed=seed)
    metadata = {
        "training": asdict(config) | {"seed": seed, "train_images": len(train), "recipe":
                                      "all layers, backbone lr = head lr / 10, BatchNorm frozen"},
        "data": DATA | {"splits": {"train": len(train), "val": len(val), "test": len(test)}},
        "metrics": {name: list(values) for name, values in report.items()},
        "calibration": {"temperature": temperature, "threshold": threshold,
                        "target_sensitivity": target_sensitivity, "chosen_on": "validation split"},
        "intended_use": "Teaching: how a chest X-ray classifier is deployed and monitored. "
                        "Not a medical device; not for diagnosis.",
        "limitations": [
            "28x28 pixel images: fine findings are invisible at this resolution.",
            "Trained on one hospital's paediatric X-rays (Guangzhou); other populations and scanners are untested.",
            f"The threshold targets {target_sensitivity:.0%} sensitivity on validation data; the test value varies (see its interval).",
        ],
        "created_by": created_by,
    }
    return Predictor(model, ARCHITECTURE, PREPROCESSING, CLASSES, version, temperature, threshold, metadata)

