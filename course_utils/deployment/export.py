"""Export a predictor's network, preprocessing included: ``torch.export`` and ONNX (ONNX Runtime).

Both take the graph :attr:`Predictor.network` (``(B, C, S, S)`` pixels in [0, 1] -> logits)
with a dynamic batch dimension. ``torch.export`` gives a ``.pt2`` program that PyTorch runs
without the Python class that defined the model; ONNX gives a ``.onnx`` file that ONNX
Runtime (C++, no PyTorch at all) runs. Check either against eager PyTorch on real images
with :func:`max_abs_difference`.

>>> example = torch.rand(2, 1, 28, 28)
>>> program = export_program(predictor, path, example)            # doctest: +SKIP
>>> session = onnx_session(export_onnx(predictor, "model.onnx", example))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .predictor import Predictor

MAX_BATCH = 4096


def _batch_dim() -> tuple[dict[int, torch.export.Dim]]:
    return ({0: torch.export.Dim("batch", min=1, max=MAX_BATCH)},)


def _graph(predictor: Predictor) -> torch.nn.Module:
    """The predictor's network with its weights in the standard (contiguous) memory order.

    The predictor keeps channels-last weights for eager speed; a saved program with such
    strided weights loads with warnings, and ONNX has no use for them.
    """
    return copy.deepcopy(predictor.network).to(memory_format=torch.contiguous_format).eval()


def export_program(predictor: Predictor, path: str | Path, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export`` the network (dynamic batch), save it to ``path`` (``.pt2``) and return it.

    ``example`` is a prepared batch ``(B, C, S, S)``, B >= 2 (a batch of one would be taken
    as a fixed size).
    """
    program = torch.export.export(_graph(predictor), (example.float(),), dynamic_shapes=_batch_dim())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, path)
    return program


def load_program(path: str | Path) -> torch.nn.Module:
    """A saved ``.pt2`` program as a callable module (no model class needed)."""
    return torch.export.load(path).module()


def export_onnx(predictor: Predictor, path: str | Path, example: torch.Tensor, opset: int = 18) -> Path:
    """Export the network to one ``.onnx`` file (weights inside) with a dynamic batch dimension.

    Uses ``torch.onnx.export(dynamo=True)``, which goes through ``torch.export``; its
    progress messages are silenced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        torch.onnx.export(_graph(predictor), (example.float(),), str(path), dynamo=True,
                          external_data=False, opset_version=opset, input_names=["images"],
                          output_names=["logits"], dynamic_shapes=_batch_dim(), verbose=False)
    return path


def onnx_session(path: str | Path, threads: int | None = None, spinning: bool = False):
    """An ONNX Runtime CPU session for ``path``; ``threads`` defaults to the usable cores.

    With ``spinning`` (ONNX Runtime's default) idle worker threads keep a core busy for a
    while after each call, waiting for the next: slightly lower latency in a loop, but they
    slow whatever else runs in the process (PyTorch, when the two are timed in turns).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_runner(session):
    """A function NumPy ``(B, C, S, S)`` float32 -> logits array, for :meth:`Predictor.use_runtime`."""
    name = session.get_inputs()[0].name

    def run(images: np.ndarray) -> np.ndarray:
        return session.run(None, {name: np.ascontiguousarray(images, dtype=np.float32)})[0]

    return run


def max_abs_difference(a, b) -> float:
    """The largest absolute difference between two arrays or tensors of the same shape.

    >>> max_abs_difference(torch.tensor([1.0, 2.0]), np.array([1.0, 2.5]))
    0.5
    """
    a, b = torch.as_tensor(np.asarray(a)), torch.as_tensor(np.asarray(b))
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a.double() - b.double()).abs().max())


def file_size_mb(path: str | Path) -> float:
    """Size of a file in megabytes (10^6 bytes)."""
    return os.path.getsize(path) / 1e6
