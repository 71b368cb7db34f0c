"""Int8 post-training quantisation of an ONNX model with ONNX Runtime, calibrated on real images.

Each float tensor ``x`` is stored as 8-bit integers ``q`` with a scale and a zero point,

    q = clamp(round(x / scale) + zero_point, q_min, q_max),    x ~ scale * (q - zero_point).

Weights are quantised per output channel (int8, symmetric); activations per tensor
(uint8), with ranges *calibrated*: the float model runs on a few hundred representative
images (validation images, never the test set) and records each activation's minimum and
maximum. The int8 model is four times smaller; whether it is faster depends on the CPU
(integer dot-product instructions such as AVX-512 VNNI) and must be measured.

>>> scale, zero_point = affine_parameters(-1.0, 3.0)
>>> round(scale, 5), zero_point
(0.01569, 64)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch


def affine_parameters(low: float, high: float, q_min: int = 0, q_max: int = 255) -> tuple[float, int]:
    """Scale and zero point that map ``[low, high]`` (widened to contain 0) onto ``q_min..q_max``.

    0 must be exactly representable (zero padding, ReLU outputs), hence the widening.
    """
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / (q_max - q_min) if high > low else 1.0
    zero_point = int(round(q_min - low / scale))
    return scale, max(q_min, min(q_max, zero_point))


class _Batches:
    """ONNX Runtime's calibration reader: yields ``{input name: batch}`` then None."""

    def __init__(self, name: str, images: torch.Tensor, batch_size: int):
        images = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        self._batches = iter([{name: images[i:i + batch_size].numpy()}
                              for i in range(0, len(images), batch_size)])

    def get_next(self):
        return next(self._batches, None)

    def rewind(self):  # not needed for MinMax calibration, part of the reader protocol
        raise NotImplementedError


def quantize_onnx(model_path: str | Path, out_path: str | Path, calibration: torch.Tensor,
                  batch_size: int = 64, per_channel: bool = True) -> Path:
    """Write an int8 (QDQ) copy of ``model_path`` calibrated on ``calibration`` images.

    ``calibration`` holds prepared images ``(N, C, S, S)`` (uint8 or float in [0, 1]), the
    graph's input. The model is first pre-processed (shape inference, graph optimisation),
    as ONNX Runtime recommends.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calibration) == 0:
        raise ValueError("no calibration images: give a few hundred validation images")
    model_path, out_path = Path(model_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    name = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model_path), str(prepared))
        quantize_static(str(prepared), str(out_path), _Batches(name, calibration, batch_size),
                        quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out_path


def quantization_error(x: np.ndarray, scale: float, zero_point: int, q_min: int = 0, q_max: int = 255) -> float:
    """Largest error of quantising then dequantising ``x``: at most ``scale / 2`` inside the range.

    >>> quantization_error(np.linspace(-1, 3, 101), *affine_parameters(-1.0, 3.0)) <= 0.01569 / 2 + 1e-9
    True
    """
    q = np.clip(np.round(x / scale) + zero_point, q_min, q_max)
    return float(np.abs(scale * (q - zero_point) - x).max())
