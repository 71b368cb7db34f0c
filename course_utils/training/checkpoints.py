"""Save and load training state safely.

Writes go to a temporary file that is renamed into place, so an interrupted save
never leaves a half-written checkpoint. Loading uses ``weights_only=True``: a
checkpoint cannot run code.

>>> import torch, tempfile, pathlib
>>> net = torch.nn.Linear(2, 2)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "net.pt"
>>> save_checkpoint(path, net, config={"lr": 0.1})
>>> load_checkpoint(path, torch.nn.Linear(2, 2))["config"]
{'lr': 0.1}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    config: dict | None = None, history: dict | None = None, **extra) -> None:
    """Atomically write model (and optimizer) state, the training config and history."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "config": config or {},
        "history": history or {},
        **extra,
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path: str | Path, model: nn.Module | None = None,
                    optimizer: torch.optim.Optimizer | None = None,
                    map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``; restore ``model``/``optimizer`` if given.

    Returns the whole checkpoint dict (``model``, ``optimizer``, ``config``, ``history``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        # PyTorch's own message suggests retrying with weights_only=False, which runs any code
        # the file holds: never good advice for a file of unknown origin, so it is not passed on.
        raise RuntimeError(_unreadable(path, error)) from None
    if not isinstance(state, dict) or "model" not in state:
        kind = f"a dict with keys {sorted(state)[:8]}" if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} holds {kind}, not a course checkpoint (a dict with a 'model' "
                         "state dict, as save_checkpoint writes)")
    if model is not None:
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as error:
            raise RuntimeError(f"checkpoint {path} does not fit {type(model).__name__}: {error}") from error
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    return state


def _unreadable(path: Path, error: Exception) -> str:
    """Why ``path`` could not be read safely, in words that do not suggest an unsafe load."""
    if "Unsupported global" in str(error):  # a real checkpoint that pickles classes or functions
        return (f"{path} holds Python objects other than tensors, numbers and containers, so it "
                "was not loaded: a safe load (weights_only=True) refuses to run the code such a "
                "file can carry. If you made it yourself, re-save the state dict with "
                "save_checkpoint; do not load a file of unknown origin with weights_only=False.")
    size = path.stat().st_size
    return (f"{path} is not a PyTorch checkpoint ({size} bytes, starting with "
            f"{path.read_bytes()[:8]!r}): it may be truncated, or another kind of file")
