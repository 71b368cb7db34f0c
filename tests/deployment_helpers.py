"""A small real PneumoniaMNIST predictor shared by the deployment tests, trained once per run."""

from __future__ import annotations

import functools
import io
import os

import pytest
import torch
from PIL import Image

from course_utils.data.datasets import LabeledImages, load_medmnist


def pneumonia_available() -> bool:
    folder = os.environ.get("MEDMNIST_DIR", "")
    return bool(folder) and os.path.exists(os.path.join(folder, "pneumoniamnist.npz"))


needs_pneumonia = pytest.mark.skipif(not pneumonia_available(), reason="set MEDMNIST_DIR to the MedMNIST mirror")


@functools.cache
def splits() -> dict[str, LabeledImages]:
    return {split: load_medmnist("pneumoniamnist", split) for split in ("train", "val", "test")}


@functools.cache
def trained_predictor():
    """Lite0 fine-tuned for one epoch on 800 training images, calibrated on validation (AUC ~0.9)."""
    from course_utils.deployment.starter import train_predictor

    data = splits()
    train = data["train"].subset(torch.randperm(len(data["train"]), generator=torch.Generator().manual_seed(0))[:800])
    return train_predictor(train, data["val"], data["test"], epochs=1, n_resamples=100)


def png_bytes(image: torch.Tensor) -> bytes:
    """A ``(1, H, W)`` or ``(3, H, W)`` uint8 tensor encoded as PNG."""
    array = image.permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(buffer, format="PNG")
    return buffer.getvalue()
