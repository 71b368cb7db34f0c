"""Fashion-MNIST to 93% test accuracy as fast as one GPU allows: a speedrun in the airbench style.

The ideas of KellerJordan's cifar10-airbench, applied to 28 x 28 clothes:

- the training set lives on the device as one uint8 tensor; batches are ``randperm``
  slices, augmented there as whole batches (random translation, mirror): a
  :class:`~course_utils.data.loaders.DeviceLoader`;
- a small VGG-like network (conv, max-pool, BatchNorm, GELU; three blocks) in
  channels_last memory order, with bf16 autocast on CUDA and ``torch.compile`` if asked;
- SGD with Nesterov momentum and label smoothing, the learning rate rising linearly from
  zero and then falling linearly back to zero over a fixed number of epochs;
- test-time augmentation: each test image's logits are averaged with its mirror image's.
  Clothes keep their class in a mirror and the network trained on mirrored images, so
  the two views are two fair guesses; both accuracies are recorded, the gain is measured.

Every knob is in :class:`SpeedrunConfig`. Timing (:class:`SpeedrunResult`) counts training
only: the device is synchronised before and after each epoch's steps, and the test
evaluation after each epoch is outside the clock.

>>> config = SpeedrunConfig(epochs=1, batch_size=32, widths=(8, 8, 8), stem_width=8)
>>> speedrun_net(config)(torch.zeros(2, 1, 28, 28)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.datasets import LabeledImages
from ..data.loaders import DeviceLoader
from ..data.transforms import Augment, Normalize, to_float
from ..runtime import autocast_dtype, channels_last, get_device, seed_everything

FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # pixel mean and std of the 60,000 training images


@dataclass
class SpeedrunConfig:
    """Every hyperparameter of a speedrun, with its unit."""

    epochs: int = 10                  # passes over the training set; the schedule spans them all
    batch_size: int = 512             # images per optimizer step (the last partial batch is dropped)
    lr: float = 0.2                   # peak learning rate of SGD (loss = batch mean)
    momentum: float = 0.9             # Nesterov momentum
    weight_decay: float = 5e-4        # L2 on conv and linear weights (not BatchNorm, not biases)
    label_smoothing: float = 0.1      # share of each target spread evenly over the 10 classes
    warmup: float = 0.2               # fraction of all steps over which the lr rises from 0 to lr
    stem_width: int = 32              # channels of the first 3x3 convolution (28 x 28)
    widths: tuple[int, int, int] = (64, 128, 256)  # channels of the blocks at 14, 7 and 3 px
    padding: int = 2                  # px: random translation up to this much (zero padding)
    hflip: bool = True                # mirror a random half of each batch (clothes are mirror-symmetric)
    tta: bool = True                  # test accuracy from the average of image and mirror logits
    compile: bool = False             # torch.compile the network (CUDA; compiles on the first steps)
    seed: int = 0


def _conv_bn(in_channels: int, out_channels: int, pool: bool = False) -> list[nn.Module]:
    """3x3 conv (no bias: BatchNorm follows), optional 2x2 max-pool, BatchNorm, GELU."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
    if pool:  # pooling before the normalisation: BatchNorm and GELU run on a quarter of the pixels
        layers.append(nn.MaxPool2d(2))
    return layers + [nn.BatchNorm2d(out_channels), nn.GELU()]


def speedrun_net(config: SpeedrunConfig | None = None, num_classes: int = 10) -> nn.Sequential:
    """The network: [0, 1] pixels ``(B, 1, 28, 28)`` to logits ``(B, num_classes)``.

    stem (28 px) -> three blocks of conv + pool, conv (14, 7, 3 px) -> global max -> linear.
    """
    config = config or SpeedrunConfig()
    layers: list[nn.Module] = [Normalize((FASHION_MEAN,), (FASHION_STD,)), *_conv_bn(1, config.stem_width)]
    channels = config.stem_width
    for width in config.widths:
        layers += _conv_bn(channels, width, pool=True) + _conv_bn(width, width)
        channels = width
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes, bias=False)]
    return nn.Sequential(*layers)


def reinitialise_(net: nn.Module, seed: int) -> nn.Module:
    """Fresh weights and BatchNorm statistics in place, drawn as a new network's are after ``seed``.

    Training the same network object again keeps ``torch.compile``'s work: runs after the
    first reuse the compiled kernels instead of compiling inside the timed epochs.
    """
    seed_everything(seed)
    for module in net.modules():
        if module is not net and hasattr(module, "reset_parameters"):
            module.reset_parameters()  # in construction order, as the constructor draws them
    return net


def triangular_lr(step: int, total_steps: int, warmup: float) -> float:
    """Multiplier of the peak lr at ``step``: 0 -> 1 over the warm-up, then 1 -> 0 at the end.

    >>> [round(triangular_lr(s, 10, 0.2), 3) for s in (0, 1, 2, 6, 10)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    peak = max(1, round(warmup * total_steps))
    if step < peak:
        return step / peak
    return max(0.0, (total_steps - step) / max(1, total_steps - peak))


def make_optimizer(model: nn.Module, config: SpeedrunConfig) -> torch.optim.SGD:
    """SGD with Nesterov momentum; weight decay on weight matrices and kernels only."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.SGD([{"params": decay, "weight_decay": config.weight_decay},
                            {"params": no_decay, "weight_decay": 0.0}],
                           lr=config.lr, momentum=config.momentum, nesterov=True)


@torch.no_grad()
def mirror_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  batch_size: int = 2000) -> tuple[float, float]:
    """Accuracy of ``model`` on ``images`` (uint8 or [0, 1]): (plain, mirror-averaged)."""
    device = next(model.parameters()).device
    amp = autocast_dtype(device)
    was_training = model.training
    model.eval()
    plain = averaged = 0
    for start in range(0, len(labels), batch_size):
        x = channels_last(to_float(images[start:start + batch_size].to(device)))
        y = labels[start:start + batch_size].to(device)
        with torch.autocast(device.type, amp) if amp else nullcontext():
            logits = model(x).float()
            mirrored = model(x.flip(-1)).float()
        plain += (logits.argmax(1) == y).sum().item()
        averaged += ((logits + mirrored).argmax(1) == y).sum().item()
    model.train(was_training)
    return plain / len(labels), averaged / len(labels)


@dataclass
class SpeedrunResult:
    """Per-epoch record of one run. ``train_seconds`` is cumulative training time."""

    config: SpeedrunConfig
    device: str
    target: float
    images_per_epoch: int
    train_seconds: list[float] = field(default_factory=list)
    acc_plain: list[float] = field(default_factory=list)      # one view per test image
    acc_mirrored: list[float] = field(default_factory=list)   # image and mirror averaged

    @property
    def test_acc(self) -> list[float]:
        """The accuracy the run is judged by: mirror-averaged if ``config.tta``."""
        return self.acc_mirrored if self.config.tta else self.acc_plain

    @property
    def images_per_second(self) -> float:
        return len(self.train_seconds) * self.images_per_epoch / self.train_seconds[-1]

    def epoch_reaching(self, accuracy: float) -> int | None:
        """First epoch (1-based) whose test accuracy reaches ``accuracy``; None if none did."""
        return next((e for e, acc in enumerate(self.test_acc, start=1) if acc >= accuracy), None)

    def seconds_to(self, accuracy: float) -> float | None:
        """Training seconds up to the end of that epoch (evaluation excluded); None if never."""
        epoch = self.epoch_reaching(accuracy)
        return None if epoch is None else self.train_seconds[epoch - 1]

    @property
    def epoch_at_target(self) -> int | None:
        return self.epoch_reaching(self.target)

    @property
    def seconds_to_target(self) -> float | None:
        return self.seconds_to(self.target)

    def as_dict(self) -> dict:
        return {**asdict(self), "images_per_second": self.images_per_second,
                "epoch_at_target": self.epoch_at_target, "seconds_to_target": self.seconds_to_target}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_speedrun(config: SpeedrunConfig, train: LabeledImages, test: LabeledImages,
                   device: torch.device | str | None = None, target: float = 0.93,
                   log=None, net: nn.Module | None = None) -> SpeedrunResult:
    """Train :func:`speedrun_net` on ``train`` and test it after every epoch.

    ``log``, if given, is called with one line per epoch (``print`` works). ``net``: a
    network built by :func:`speedrun_net` for this config to train again from fresh
    weights (see :func:`reinitialise_`); by default a new one.
    """
    device = torch.device(device) if device else get_device()
    if net is None:
        seed_everything(config.seed)
        model = speedrun_net(config, num_classes=len(train.classes)).to(device)
    else:
        model = reinitialise_(net.to(device), config.seed)
    model.to(memory_format=torch.channels_last)
    loader = DeviceLoader.from_data(train, batch_size=config.batch_size, shuffle=True, drop_last=True,
                                    augment=Augment(config.padding, config.hflip), device=device,
                                    seed=config.seed)
    if len(loader) == 0:
        raise ValueError(f"batch_size {config.batch_size} is larger than the {len(train)} training images")
    test_images, test_labels = test.images.to(device), test.labels.to(device)
    optimizer = make_optimizer(model, config)
    total_steps = config.epochs * len(loader)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: triangular_lr(step, total_steps, config.warmup))
    amp = autocast_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)  # fp16 cards (T4) need it
    step_model = torch.compile(model) if config.compile else model
    result = SpeedrunResult(config, str(device), target, images_per_epoch=len(loader) * config.batch_size)
    elapsed = 0.0
    for epoch in range(1, config.epochs + 1):
        _sync(device)
        start = time.perf_counter()
        model.train()
        for x, y in loader:  # x: (B, 1, 28, 28) in [0, 1], augmented on the device
            with torch.autocast(device.type, amp) if amp else nullcontext():
                loss = F.cross_entropy(step_model(channels_last(x)).float(), y,
                                       label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
        _sync(device)
        elapsed += time.perf_counter() - start
        plain, mirrored = mirror_accuracy(model, test_images, test_labels)
        result.train_seconds.append(elapsed)
        result.acc_plain.append(plain)
        result.acc_mirrored.append(mirrored)
        if log is not None:
            log(f"epoch {epoch:>2}: {elapsed:7.2f} s training, test accuracy {plain:.4f} "
                f"(mirror-averaged {mirrored:.4f}), loss {loss.item():.3f}")
    model.to(memory_format=torch.contiguous_format)
    return result
