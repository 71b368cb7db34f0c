"""``fit``: a training loop a learner can read top to bottom.

One epoch is: train on every batch, evaluate on the validation set, record the
history, keep the best weights, maybe stop early. At the end the model holds the
best weights, however the run ended (finished, early stop, Ctrl-C, diverged).

>>> from course_utils.models.backbones import SmallCNN
>>> from course_utils.data.loaders import DeviceLoader
>>> import torch
>>> X, y = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8), torch.arange(64) % 10
>>> history = fit(SmallCNN(), DeviceLoader(X, y, batch_size=32), epochs=1, progress=False)
>>> history.stopped
'completed'

A multi-task model (forward returns ``{task: logits}``) trains the same way with ``(N, T)``
labels; the history then also holds ``train_acc_<task>``, ``val_loss_<task>``, ... in ``extra``
(see :mod:`course_utils.training.multitask`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..evaluation.classification import as_float, default_loss, evaluate
from ..evaluation.multitask import TaskMeter, check_task_labels
from ..models.surgery import layerwise_groups, param_groups
from ..runtime import autocast_dtype, channels_last
from .checkpoints import save_checkpoint
from .history import History


@dataclass
class FitConfig:
    """Every hyperparameter of a run, in one place; saved inside checkpoints."""

    epochs: int = 10
    optimizer: str = "adamw"          # "adamw" or "sgd"
    lr: float = 1e-3                  # head learning rate (and backbone's, unless backbone_lr)
    backbone_lr: float | None = None  # set for discriminative learning rates
    layer_decay: float | None = None  # layer-wise decay: each stage below the head this much slower
    weight_decay: float = 0.0         # decoupled for AdamW, L2 for SGD
    momentum: float = 0.9             # SGD only
    nesterov: bool = False            # SGD only
    label_smoothing: float = 0.0
    scheduler: str = "none"           # "none", "onecycle", "cosine" or "step"
    step_size: int = 5                # "step": epochs between decays
    gamma: float = 0.1                # "step": decay factor
    monitor: str = "val_acc"          # "val_acc" (higher is better) or "val_loss"
    patience: int | None = None       # epochs without improvement before stopping; None: never
    grad_clip: float | None = None    # max gradient norm
    amp: bool = True                  # autocast (bf16/fp16) on CUDA; no effect on CPU
    channels_last: bool = True        # NHWC while training, on CPUs and CUDA (2x faster Lite0 on a CPU)
    compile: bool = False             # torch.compile the model (CUDA, PyTorch 2)
    check_every: int = 10             # batches between non-finite loss checks (each check syncs)
    progress: bool = True             # tqdm bars (TQDM_DISABLE=1 silences them)
    checkpoint_path: str | None = None  # save the best weights here as they improve


def bars_disabled(progress: bool = True) -> bool:
    """True when progress bars should stay off: ``progress=False``, or ``TQDM_DISABLE`` set.

    tqdm reads ``TQDM_DISABLE`` for its console bars, but the notebook bars of ``tqdm.auto``
    do not, so the course reads it itself and passes ``disable`` explicitly.

    >>> bars_disabled(progress=False)
    True
    """
    flag = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return not progress or flag not in ("", "0", "false", "no")


class Callback:
    """Override any of these; each receives the running :class:`Trainer`."""

    def before_fit(self, trainer: Trainer) -> None: ...
    def before_epoch(self, trainer: Trainer) -> None: ...
    def after_batch(self, trainer: Trainer) -> None: ...
    def after_epoch(self, trainer: Trainer) -> None: ...
    def after_fit(self, trainer: Trainer) -> None: ...


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite. ``history`` holds the epochs before it."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


@dataclass
class Trainer:
    """The state callbacks see: change ``should_stop`` to end training after this epoch."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    config: FitConfig
    history: History
    epoch: int = 0
    batch: int = 0
    loss: torch.Tensor | None = None
    should_stop: bool = False


def make_optimizer(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """AdamW or SGD over the trainable parameters, with backbone/head groups if asked."""
    if config.backbone_lr is not None and config.layer_decay is not None:
        raise ValueError("set backbone_lr (two rates) or layer_decay (one rate per stage), not both")
    if config.layer_decay is not None:
        params = layerwise_groups(model, config.lr, config.layer_decay, config.weight_decay)
    elif config.backbone_lr is not None:
        params = param_groups(model, config.backbone_lr, config.lr, config.weight_decay)
    else:
        params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: is everything frozen?")
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov, weight_decay=config.weight_decay)
    raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {config.optimizer!r}")


def make_scheduler(optimizer, config: FitConfig, steps_per_epoch: int):
    """Returns ``(scheduler, per_batch)``; ``scheduler`` is None for ``"none"``."""
    total = config.epochs * steps_per_epoch
    if config.scheduler == "none":
        return None, False
    if config.scheduler == "onecycle":
        max_lrs = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total), True
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total), True
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma), False
    raise ValueError(f"scheduler must be none, onecycle, cosine or step, got {config.scheduler!r}")


def check_compatible(model: nn.Module, loader: Iterable, device: torch.device,
                     check_labels: bool = True) -> None:
    """Fail before training if the images don't fit the model or the labels exceed the head.

    Runs one small batch through the model in eval mode and compares shapes. The label
    check assumes one output per class; ``check_labels=False`` skips it (a custom loss,
    such as an ordinal head with one output fewer than the grades, knows better).
    """
    x, y = next(iter(loader))
    x = x[:2].to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except RuntimeError as error:
        raise ValueError(
            f"input batch of shape {tuple(x.shape)} does not fit {type(model).__name__}: {error}"
        ) from error
    finally:
        model.train(was_training)
    all_labels = getattr(loader, "labels", y)
    if isinstance(out, dict):  # a multi-task model: one label column per task
        check_task_labels(out, all_labels.cpu(), same_rows=False)
        return
    if check_labels and out.ndim == 2 and torch.is_floating_point(all_labels) and all_labels.ndim == 1:
        raise ValueError(
            f"labels are {all_labels.dtype} numbers, but cross-entropy over the {out.shape[1]} "
            f"outputs of {type(model).__name__} needs class indices (torch.long): convert them "
            "with labels.long(); for regression or soft targets pass your own loss_fn"
        )
    if check_labels and out.ndim == 2 and not torch.is_floating_point(all_labels) and all_labels.ndim == 1:
        num_outputs, highest = out.shape[1], int(all_labels.max())
        if highest >= num_outputs or int(all_labels.min()) < 0:
            raise ValueError(
                f"labels range over {int(all_labels.min())}..{highest} but the head of "
                f"{type(model).__name__} has {num_outputs} outputs: use replace_head(model, "
                f"num_classes={highest + 1}) or remap the labels to 0..{num_outputs - 1}"
            )


def _score(metrics: dict[str, float], monitor: str) -> float:
    """Higher is better: accuracy as is, loss negated."""
    return -metrics[monitor] if monitor.endswith("loss") else metrics[monitor]


def _copy_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    config: FitConfig | None = None,
    callbacks: Sequence[Callback] = (),
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str | None = None,
    **overrides,
) -> History:
    """Train ``model`` on ``(X, y)`` batches; return the :class:`History`.

    Hyperparameters come from ``config`` and keyword ``overrides``
    (``fit(model, train, val, epochs=5, lr=3e-4)``). The model ends holding the best
    weights by ``config.monitor`` (or the last finite ones without a validation set).
    """
    config = replace(config or FitConfig(), **overrides)
    device = torch.device(device) if device else next(model.parameters()).device
    model.to(device)
    check_compatible(model, train_loader, device, check_labels=loss_fn is None)
    nhwc = config.channels_last and device.type in ("cpu", "cuda")
    if nhwc:  # back to the usual layout at the end, so weight.view() keeps working afterwards
        model.to(memory_format=torch.channels_last)

    loss_fn = loss_fn or (lambda out, y: default_loss(out, y, label_smoothing=config.label_smoothing))
    optimizer = make_optimizer(model, config)
    scheduler, per_batch = make_scheduler(optimizer, config, len(train_loader))
    amp_dtype = autocast_dtype(device) if config.amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    step_model = torch.compile(model) if config.compile else model
    history = History(stopped="running")
    trainer = Trainer(model, optimizer, config, history)
    best_weights, best_score = _copy_weights(model), -math.inf
    monitor = config.monitor if val_loader is not None else "train_loss"
    epochs_without_improvement = 0
    for cb in callbacks:
        cb.before_fit(trainer)

    # One bar for the whole run: per-epoch bars left empty outputs behind in notebooks.
    bar = tqdm(total=config.epochs * len(train_loader), desc="training", unit="batch",
               disable=bars_disabled(config.progress))
    try:
        for epoch in range(1, config.epochs + 1):
            trainer.epoch, start = epoch, time.perf_counter()
            for cb in callbacks:
                cb.before_epoch(trainer)
            # ---- train one epoch
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device)
            seen = 0
            tasks = TaskMeter()  # per-task loss and accuracy, for a multi-task model
            for batch, (x, y) in enumerate(train_loader, start=1):
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if nhwc:
                    x = channels_last(x)
                autocast = torch.autocast(device.type, amp_dtype) if amp_dtype else nullcontext()
                with autocast:
                    out = step_model(x)
                    out = as_float(out)
                    loss = loss_fn(out, y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if config.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                if per_batch:
                    scheduler.step()
                loss_sum.add_(loss.detach(), alpha=len(y))
                if isinstance(out, dict):
                    tasks.update(out, y)
                elif out.ndim == 2 and y.ndim == 1:
                    correct += (out.detach().argmax(1) == y).sum()
                seen += len(y)
                trainer.batch, trainer.loss = batch, loss.detach()
                bar.update()
                for cb in callbacks:
                    cb.after_batch(trainer)
                if batch % config.check_every == 0 and not torch.isfinite(loss_sum):
                    raise _diverged(epoch, batch, loss, optimizer)
            if not torch.isfinite(loss_sum):
                raise _diverged(epoch, batch, loss, optimizer)
            if scheduler is not None and not per_batch:
                scheduler.step()
            # ---- validate, record, keep the best weights
            metrics = {"train_loss": loss_sum.item() / seen, "train_acc": correct.item() / seen}
            if tasks.sums:  # the main (first) task's accuracy is train_acc
                per_task = tasks.means()
                metrics |= {f"train_{k}": v for k, v in per_task.items()}
                metrics["train_acc"] = per_task[f"acc_{next(iter(tasks.sums))}"]
            if val_loader is not None:
                val = evaluate(model, val_loader, loss_fn)
                metrics |= {f"val_{k}": v for k, v in val.items()}
            history.record(epoch=epoch, lr=optimizer.param_groups[-1]["lr"],
                           time=time.perf_counter() - start, **metrics)
            bar.set_postfix({"epoch": epoch, **{k: round(v, 4) for k, v in metrics.items()}})
            score = _score(metrics, monitor)
            if score > best_score:
                best_score, best_weights, epochs_without_improvement = score, _copy_weights(model), 0
                history.best_epoch, history.best_score = epoch, metrics[monitor]
                if config.checkpoint_path:
                    save_checkpoint(config.checkpoint_path, model, optimizer,
                                    config=asdict(config), history=history.as_dict())
            else:
                epochs_without_improvement += 1
            for cb in callbacks:
                cb.after_epoch(trainer)
            if config.patience is not None and epochs_without_improvement >= config.patience:
                history.stopped = "early_stopping"
                break
            if trainer.should_stop:
                history.stopped = "callback"
                break
        else:
            history.stopped = "completed"
    except KeyboardInterrupt:
        history.stopped = "interrupted"
        kept = f"epoch {history.best_epoch}" if history.best_epoch else "the initial weights"
        print(f"Interrupted in epoch {trainer.epoch}: keeping {kept} "
              f"and the history of {len(history)} finished epochs.")
    except _Diverged as signal:
        history.stopped = "diverged"
        model.load_state_dict(best_weights)
        raise TrainingDivergedError(
            f"{signal} Training stopped; the model holds "
            + (f"the weights of epoch {history.best_epoch} (the last good ones)" if history.best_epoch
               else "its initial weights (no epoch finished)")
            + ". Try a lower learning rate, "
            "gradient clipping (grad_clip=1.0) or check the inputs for NaNs.", history
        ) from None
    finally:
        bar.close()
        if nhwc:
            model.to(memory_format=torch.contiguous_format)
    model.load_state_dict(best_weights)
    for cb in callbacks:
        cb.after_fit(trainer)
    return history


class _Diverged(Exception):
    pass


def _diverged(epoch: int, batch: int, loss: torch.Tensor, optimizer) -> _Diverged:
    lr = optimizer.param_groups[-1]["lr"]
    return _Diverged(f"The loss became {loss.item()} in epoch {epoch} by batch {batch} (lr={lr:g}).")


def save_run(path: str | Path, model: nn.Module, history: History, config: FitConfig | None = None) -> None:
    """Save a finished run: weights, config and history together."""
    save_checkpoint(path, model, config=asdict(config or FitConfig()), history=history.as_dict())
