"""Zero-shot ImageNet checks on real photos: is a pretrained backbone the function it was trained as?

A backbone loaded into the wrong architecture variant, or fed the wrong normalisation, still
runs and still recognises a cat: it is only a little worse everywhere. One photo cannot show
that. Many views of photos whose class is not in doubt can: the probability the network gives
the right classes falls measurably (lesson 02, section 1b, and ``tests/test_backbone_fidelity.py``).

>>> from course_utils.models.backbones import efficientnet_lite0
>>> scores = right_class_probability(efficientnet_lite0())   # doctest: +SKIP
>>> scores.shape, round(scores.mean().item(), 2)              # doctest: +SKIP
(torch.Size([88]), 0.79)
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..data.datasets import load_photos
from ..data.transforms import imagenet_preprocess
from ..models.backbones import IMAGENET_CLASSES
from ..models.conventions import input_convention

# scikit-image photos whose ImageNet class is not in doubt, and the classes that count as right
PHOTO_CLASSES: dict[str, tuple[str, ...]] = {
    "chelsea": ("tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"),
    "coffee": ("espresso", "cup", "coffee mug"),
    "rocket": ("missile", "projectile", "space shuttle"),
    "camera": ("tripod", "reflex camera", "Polaroid camera"),
}
VIEW_SIZES = tuple(range(128, 289, 16))  # 11 resolutions around the training one, each also mirrored


@torch.no_grad()
def right_class_probability(model: nn.Module, convention=None, sizes=VIEW_SIZES,
                            device: torch.device | str = "cpu") -> torch.Tensor:
    """P(one of the right classes) for every photo in :data:`PHOTO_CLASSES`, at every view size, mirrored too.

    Views are cut as the model was evaluated (its own crop and interpolation); ``convention``
    sets the normalisation fed to it (default: the model's own), so a wrong one can be measured.
    Returns ``len(sizes) * 2 * len(PHOTO_CLASSES)`` values in [0, 1].
    """
    model = model.eval().to(device)
    own = input_convention(model)
    feed = own if convention is None else input_convention(convention)
    rows = [[IMAGENET_CLASSES.index(c) for c in classes] for classes in PHOTO_CLASSES.values()] * 2
    values = []
    for size in sizes:
        photos = load_photos(tuple(PHOTO_CLASSES), size, convention=own)
        probs = model(imagenet_preprocess(torch.cat([photos, photos.flip(-1)]).to(device), feed,
                                          size=None)).softmax(1).cpu()
        values += [probs[i, row].sum() for i, row in enumerate(rows)]
    return torch.stack(values)


def mean_log_likelihood(probabilities: torch.Tensor) -> float:
    """Mean log-probability of the right classes (higher is better; 0 is certainty)."""
    return probabilities.clamp_min(1e-6).log().mean().item()
