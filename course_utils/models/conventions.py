"""What a pretrained network expects of its input: the preprocessing is part of the model.

A network's weights were trained on images prepared one way: resized with one
interpolation, cropped to a fraction of the shorter side, normalised with one mean and
standard deviation. Feed it anything else and it still runs, only worse, silently. So
every backbone the course builds carries its :class:`InputConvention` (attribute
``input_convention``), read from the model's own configuration (timm's ``pretrained_cfg``,
torchvision's weight transforms), never typed in by hand.

>>> convention = input_convention("efficientnet_lite0")   # Google's TF checkpoint
>>> convention.mean, convention.std, convention.interpolation
((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 'bicubic')
>>> input_convention("resnet18").mean                     # torchvision's own training
(0.485, 0.456, 0.406)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch.nn as nn

# The course's backbone names and where each one's convention is defined.
TIMM_NAMES = {"efficientnet_lite0": "tf_efficientnet_lite0.in1k",
              "efficientnet_lite1": "tf_efficientnet_lite1.in1k",
              "efficientnet_lite2": "tf_efficientnet_lite2.in1k"}
TORCHVISION_WEIGHTS = {"resnet18": ("ResNet18_Weights", "IMAGENET1K_V1"),
                       "mobilenet_v2": ("MobileNet_V2_Weights", "IMAGENET1K_V1")}


@dataclass(frozen=True)
class InputConvention:
    """How the images a set of weights was trained on were prepared.

    ``mean`` and ``std`` act on [0, 1] RGB pixels; ``interpolation`` is ``"bilinear"`` or
    ``"bicubic"``; ``crop_pct`` is the share of the resized shorter side kept by the
    centre crop at evaluation; ``input_size`` is the training resolution in pixels.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str
    crop_pct: float
    input_size: int
    source: str = ""  # where it was read from, for messages and model cards

    def as_dict(self) -> dict:
        """Plain JSON-able values (for a predictor artefact or an ONNX file's metadata)."""
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, fields: dict) -> InputConvention:
        """The inverse of :meth:`as_dict`; a clear error names what is missing."""
        missing = [k for k in ("mean", "std", "interpolation", "crop_pct", "input_size") if k not in fields]
        if missing:
            raise ValueError(f"an input convention needs {missing}, got {sorted(fields)}")
        return cls(tuple(float(v) for v in fields["mean"]), tuple(float(v) for v in fields["std"]),
                   str(fields["interpolation"]), float(fields["crop_pct"]), int(fields["input_size"]),
                   str(fields.get("source", "")))


def _from_timm(timm_name: str) -> InputConvention:
    import timm.data
    import timm.models

    config = timm.data.resolve_data_config(pretrained_cfg=timm.models.get_pretrained_cfg(timm_name).to_dict())
    return InputConvention(tuple(config["mean"]), tuple(config["std"]), config["interpolation"],
                           float(config["crop_pct"]), int(config["input_size"][-1]),
                           f"timm pretrained_cfg of {timm_name}")


def _from_torchvision(weights_class: str, weights_name: str) -> InputConvention:
    import torchvision.models

    weights = getattr(getattr(torchvision.models, weights_class), weights_name)
    transform = weights.transforms()
    crop, resize = transform.crop_size[0], transform.resize_size[0]
    return InputConvention(tuple(transform.mean), tuple(transform.std), transform.interpolation.value,
                           crop / resize, crop, f"torchvision {weights_class}.{weights_name}")


def convention_for(name: str) -> InputConvention:
    """The convention of a course backbone by name (no weights needed)."""
    if name in TIMM_NAMES:
        return _from_timm(TIMM_NAMES[name])
    if name in TORCHVISION_WEIGHTS:
        return _from_torchvision(*TORCHVISION_WEIGHTS[name])
    raise ValueError(f"no input convention known for {name!r}; "
                     f"known: {sorted(TIMM_NAMES) + sorted(TORCHVISION_WEIGHTS)}")


def input_convention(source) -> InputConvention:
    """The convention of ``source``: an :class:`InputConvention`, a backbone name, or a model.

    A model is searched for the first submodule carrying ``input_convention`` (so
    ``nn.Sequential(head_wrapper, backbone)`` works). A model without one, such as a
    network trained from scratch, raises: there is no pretrained convention to follow.
    """
    if isinstance(source, InputConvention):
        return source
    if isinstance(source, str):
        return convention_for(source)
    if isinstance(source, nn.Module):
        for module in source.modules():
            found = getattr(module, "input_convention", None)
            if isinstance(found, InputConvention):
                return found
        raise ValueError(f"{type(source).__name__} carries no input_convention: build it with "
                         "course_utils.load_backbone, or pass the backbone's name")
    raise TypeError(f"expected an InputConvention, a backbone name or a model, got {type(source).__name__}")
