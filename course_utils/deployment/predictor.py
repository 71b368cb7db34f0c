"""One artefact for deployment: preprocessing, network, class names, calibration and a version.

A checkpoint holds weights; a *predictor* holds everything needed to turn a file into an
answer: how to read and resize the image, the network, its class names, the temperature
that calibrates its probabilities, the decision threshold, a version and the metadata a
model card is made of. It is saved as one file of tensors and plain Python values, so it
loads with ``torch.load(..., weights_only=True)`` (no code runs) and rebuilds the network
from its architecture without downloading anything.

>>> import torch
>>> from course_utils import load_backbone, replace_head
>>> net = replace_head(load_backbone("efficientnet_lite0", pretrained=False), 2)
>>> predictor = Predictor(net, {"backbone": "efficientnet_lite0", "num_classes": 2},
...                       {"channels": 1, "source_size": 28, "input_size": 40},
...                       classes=["normal", "pneumonia"], version="1.0.0", threshold=0.42)
>>> result = predictor.predict(torch.rand(1, 28, 28))
>>> result.label in ("normal", "pneumonia"), round(sum(result.probabilities.values()), 4)
(True, 1.0)
"""

from __future__ import annotations

import copy
import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..data.transforms import ImageNetInput
from ..models.backbones import load_backbone
from ..models.conventions import InputConvention, convention_for
from ..models.surgery import head_name, replace_head
from ..paths import data_dir
from ..runtime import channels_last
from ..training.checkpoints import load_checkpoint, save_checkpoint
from .inputs import InvalidImageError, describe, prepare_image

# /2: the backbone's input convention is recorded (format /1 assumed ImageNet mean/std for Lite0)
FORMAT = "course_utils.predictor/2"
VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")


def artefact_path(name: str, version: str) -> Path:
    """``<course data dir>/artefacts/<name>-v<version>.pt`` (the folder is created).

    >>> artefact_path("pneumoniamnist", "1.0.0").name
    'pneumoniamnist-v1.0.0.pt'
    """
    folder = data_dir() / "artefacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}-v{version}.pt"


def build_network(architecture: dict) -> nn.Module:
    """The untrained network an architecture dict describes (no download: ``pretrained=False``)."""
    try:
        backbone, num_classes = architecture["backbone"], int(architecture["num_classes"])
    except KeyError as missing:
        raise ValueError(f"architecture needs 'backbone' and 'num_classes', got {architecture}") from missing
    model = load_backbone(backbone, pretrained=False)
    return replace_head(model, num_classes, dropout=float(architecture.get("head_dropout", 0.0)))


def _head_dropout(model: nn.Module) -> float:
    head = getattr(model, head_name(model))
    drops = [m.p for m in head.modules() if isinstance(m, nn.Dropout)] if isinstance(head, nn.Sequential) else []
    return float(drops[0]) if drops else 0.0


def _plain(metadata: dict, what: str = "metadata") -> dict:
    """``metadata`` as plain JSON types (tuples become lists), or a clear error."""
    try:
        return json.loads(json.dumps(metadata, allow_nan=True))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must hold JSON-able values only (str, numbers, lists, dicts): "
                         f"{error}") from error


@dataclass
class Prediction:
    """The answer for one input. ``error`` is set, and the rest empty, when the input was bad."""

    source: str
    label: str | None = None                      # the decision (threshold applied for 2 classes)
    probabilities: dict[str, float] = field(default_factory=dict)  # calibrated, highest first
    version: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def top(self, k: int = 1) -> list[tuple[str, float]]:
        """The ``k`` most probable classes with their probabilities."""
        return list(self.probabilities.items())[:k]

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "label": self.label, "version": self.version,
                "top": [{"class": c, "probability": p} for c, p in self.probabilities.items()],
                "error": self.error}


class Predictor:
    """Preprocessing + network + classes + calibration + version, saved and loaded as one file.

    Args:
        model: takes a preprocessed batch ``(B, 3, input_size, input_size)``, returns logits.
        architecture: ``{"backbone": name, "num_classes": K}``, rebuilt by
            :func:`build_network` when loading (a dropout head is recorded automatically).
        preprocessing: ``{"channels": 1 or 3, "source_size": S, "input_size": N}``: any image
            is made ``channels``-channel, centre-cropped and resized to ``S`` x ``S``
            (antialiased), then given to ``ImageNetInput(N, convention)``. Optional
            ``"min_size"``: the smallest side accepted (default ``S``). ``"convention"``: the
            backbone's input convention (mean, std, interpolation...); recorded from the
            backbone named in ``architecture`` when absent, so it travels with the file.
        classes: one name per output.
        version: ``"MAJOR.MINOR.PATCH"``.
        temperature: probabilities are ``softmax(logits / temperature)`` (fitted on validation data).
        threshold: for two classes, predict ``classes[1]`` when its probability is at least
            this (chosen on validation data); ``None``: the most probable class.
        metadata: free-form JSON-able dict (training config, data, metrics, intended use,
            limitations...), the source of the model card.
    """

    def __init__(self, model: nn.Module, architecture: dict, preprocessing: dict,
                 classes: Sequence[str], version: str, temperature: float = 1.0,
                 threshold: float | None = None, metadata: dict | None = None):
        self.architecture = _plain(dict(architecture), "architecture")
        if "head_dropout" not in self.architecture and _head_dropout(model) > 0:
            self.architecture["head_dropout"] = _head_dropout(model)
        self.preprocessing = _plain(dict(preprocessing), "preprocessing")
        for key in ("channels", "source_size", "input_size"):
            if key not in self.preprocessing:
                raise ValueError(f"preprocessing needs {key!r}, got {preprocessing}")
        if "convention" not in self.preprocessing:
            self.preprocessing["convention"] = convention_for(self.architecture["backbone"]).as_dict()
        self.convention = InputConvention.from_dict(self.preprocessing["convention"])
        self.classes = [str(c) for c in classes]
        if len(self.classes) != int(self.architecture.get("num_classes", -1)):
            raise ValueError(f"{len(self.classes)} class names but architecture says "
                             f"num_classes={self.architecture.get('num_classes')}")
        if not VERSION_PATTERN.match(str(version)):
            raise ValueError(f"version must look like '1.0.0' (MAJOR.MINOR.PATCH), got {version!r}")
        self.version = str(version)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        if threshold is not None and (len(self.classes) != 2 or not 0 < threshold < 1):
            raise ValueError(f"a threshold needs exactly 2 classes and a value in (0, 1); got "
                             f"{threshold} with {len(self.classes)} classes")
        self.threshold = None if threshold is None else float(threshold)
        self.metadata = _plain(dict(metadata or {}))
        # A copy, so the caller's model keeps its device and memory order. Channels-last (NHWC),
        # the order fit trains in, is as fast or slightly faster for inference here
        # (1.03x at batch 1, 1.06x at batch 64: benchmarks/bench_deployment.py).
        self.model = copy.deepcopy(model).cpu().eval().to(memory_format=torch.channels_last)
        self.network = nn.Sequential(ImageNetInput(int(self.preprocessing["input_size"]), self.convention),
                                     self.model).eval()
        self._runtime = None  # None: eager PyTorch; else a callable on (B, C, S, S) float arrays

    # ------------------------------------------------------------ reading inputs

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, S, S)``: what :meth:`logits` takes per image (and what exported graphs take)."""
        p = self.preprocessing
        return int(p["channels"]), int(p["source_size"]), int(p["source_size"])

    def prepare(self, item: Any, name: str | None = None) -> torch.Tensor:
        """One input (path, bytes, PIL image, tensor, array) as ``(C, S, S)`` float in [0, 1]."""
        channels, size, _ = self.input_shape
        return prepare_image(item, channels, size, self.preprocessing.get("min_size"), name)

    # ------------------------------------------------------------ the numbers

    @torch.no_grad()
    def logits(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Logits ``(B, K)`` for prepared images ``(B, C, S, S)`` (uint8, or float in [0, 1])."""
        if images.dtype == torch.uint8:
            images = images.float() / 255
        chunks = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
        if self._runtime is not None:
            return torch.cat([torch.as_tensor(self._runtime(c.float().contiguous().numpy())) for c in chunks])
        return torch.cat([self.model(channels_last(self.network[0](c))) for c in chunks])

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities ``softmax(logits / temperature)``, ``(B, K)``."""
        return (self.logits(images) / self.temperature).softmax(dim=1)

    def decide(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Class index per row: ``P(class 1) >= threshold`` for two classes, else the arg-max."""
        if self.threshold is None:
            return probabilities.argmax(dim=1)
        return (probabilities[:, 1] >= self.threshold).long()

    def use_runtime(self, run) -> Predictor:
        """Run the network with ``run`` (NumPy ``(B, C, S, S)`` float32 -> logits) instead of
        eager PyTorch, e.g. an ONNX Runtime session; ``None`` goes back. Returns ``self``."""
        self._runtime = run
        return self

    # ------------------------------------------------------------ predictions

    def predict(self, inputs: Any, names: Sequence[str] | None = None,
                strict: bool = False) -> Prediction | list[Prediction]:
        """Predict one input, or each of a list (or of a ``(B, C, H, W)`` tensor).

        One input: a :class:`Prediction`; a bad one raises :class:`InvalidImageError` naming it.
        A list: one :class:`Prediction` each, in order; a bad input gets ``error`` set (and
        one warning lists them all) while the others keep their results, unless ``strict``.
        """
        single = not isinstance(inputs, (list, tuple)) and not (
            isinstance(inputs, torch.Tensor) and inputs.ndim == 4)
        items = [inputs] if single else list(inputs)
        if names is not None and len(names) != len(items):
            raise ValueError(f"{len(items)} inputs but {len(names)} names")
        labels = list(names) if names is not None else [
            describe(item, None if single else i) for i, item in enumerate(items)]
        prepared, results = [], []
        for item, name in zip(items, labels):
            try:
                prepared.append(self.prepare(item, name))
                results.append(Prediction(name, version=self.version))
            except InvalidImageError as error:
                if single or strict:
                    raise
                results.append(Prediction(name, version=self.version, error=str(error)))
        if prepared:
            probs = self.probabilities(torch.stack(prepared))
            decisions = self.decide(probs)
            good = (r for r in results if r.ok)
            for result, row, decision in zip(good, probs.tolist(), decisions.tolist()):
                ranked = sorted(zip(self.classes, row), key=lambda pair: -pair[1])
                result.probabilities = {c: float(p) for c, p in ranked}
                result.label = self.classes[decision]
        failed = [r for r in results if not r.ok]
        if failed:
            warnings.warn(f"{len(failed)} of {len(results)} inputs could not be read:\n"
                          + "\n".join(f"  {r.error}" for r in failed), stacklevel=2)
        return results[0] if single else results

    # ------------------------------------------------------------ saving and loading

    def save(self, path: str | Path) -> Path:
        """Write the artefact atomically; the network must rebuild from its architecture."""
        path = Path(path)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        try:
            build_network(self.architecture).load_state_dict(state)
        except RuntimeError as error:
            raise ValueError(f"the model does not match architecture {self.architecture}: "
                             f"{str(error)[:500]}") from error
        save_checkpoint(path, self.model, config=self.metadata.get("training", {}),
                        predictor=self._fields())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)  # readable like any new file (a service may run as another user)
        return path

    def _fields(self) -> dict:
        return {"format": FORMAT, "architecture": self.architecture, "preprocessing": self.preprocessing,
                "classes": self.classes, "version": self.version, "temperature": self.temperature,
                "threshold": self.threshold, "metadata": self.metadata,
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "torch_version": str(torch.__version__)}

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        """Read an artefact with ``weights_only=True`` and rebuild its network (no download)."""
        state = load_checkpoint(path)
        fields = state.get("predictor")
        if isinstance(fields, dict) and fields.get("format") == "course_utils.predictor/1":
            raise ValueError(f"{path} is a predictor of format /1, made before the course ran its backbone "
                             "as trained (TF padding, mean = std = 0.5); rebuild it (lesson 07 makes it)")
        if not isinstance(fields, dict) or fields.get("format") != FORMAT:
            raise ValueError(f"{path} is a checkpoint but not a predictor artefact ({FORMAT})")
        model = build_network(fields["architecture"])
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as error:
            raise ValueError(f"{path}: weights do not fit {fields['architecture']}: {str(error)[:500]}") from error
        return cls(model, fields["architecture"], fields["preprocessing"], fields["classes"],
                   fields["version"], fields["temperature"], fields["threshold"], fields["metadata"])

    def replace(self, model: nn.Module | None = None, version: str | None = None, **changes) -> Predictor:
        """A new predictor with some fields changed (``metadata`` entries are merged)."""
        metadata = {**self.metadata, **changes.pop("metadata", {})}
        fields = {"architecture": self.architecture, "preprocessing": self.preprocessing,
                  "classes": self.classes, "temperature": self.temperature,
                  "threshold": self.threshold, **changes}
        return Predictor(model if model is not None else self.model, version=version or self.version,
                         metadata=metadata, **fields)

    def __repr__(self) -> str:
        p = self.preprocessing
        return (f"Predictor({self.architecture.get('backbone')} v{self.version}, classes={self.classes}, "
                f"{p['channels']}x{p['source_size']}px -> {p['input_size']}px, "
                f"T={self.temperature:.2f}, threshold="
                f"{'None' if self.threshold is None else format(self.threshold, '.3f')})")

