"""EfficientNet-Lite0 fine-tuning throughput, as a fraction of the card's bf16 dense peak.

The workload is the course's fine-tuning recipe (lessons 03 and 07): ImageNet Lite0 with a
new 10-class head, every convolution training, BatchNorm frozen, AdamW with the backbone at
a tenth of the head's learning rate, bf16 autocast and channels_last, one ``fit`` step at a
time (forward, loss, backward, optimizer step) on Fashion-MNIST images already resized to
``size`` px on the device (that preprocessing is done once and not timed).

FLOPs per step come from ``torch.utils.flop_counter.FlopCounterMode`` over one forward and
backward pass: convolutions and matrix products (2 FLOPs per multiply-add), which is what
tensor cores do; BatchNorm, activations and the optimizer are not counted. PyTorch's formula
for a convolution's weight gradient ignores ``groups`` (torch 2.14.1 still does): it counts a
depthwise convolution's weight gradient C times too high, C being its channels (32 to 1152 in
Lite0), which makes Lite0's training step 14x its true count. :func:`conv_backward_flops`
replaces it. The fraction of
peak is (FLOPs per step x steps per second) / the card's bf16 dense tensor-core peak from
:data:`PEAK_TFLOPS`; an unknown card gets the achieved TFLOP/s only.

On a GPU (``make gpu-check``):  python -m benchmarks.bench_lite0_throughput
Prints only; writes nothing.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import machine, sync
from course_utils.data.datasets import load_fashion_mnist
from course_utils.data.transforms import ImageNetInput
from course_utils.models.backbones import load_backbone
from course_utils.models.surgery import replace_head
from course_utils.runtime import autocast_dtype, channels_last, seed_everything
from course_utils.training.finetune import freeze_batchnorm
from course_utils.training.loop import FitConfig, make_optimizer

# Dense (no 2:4 sparsity) bf16 tensor-core peaks in TFLOP/s, by a pattern on
# torch.cuda.get_device_name(). NVIDIA's datasheets print the figure "with sparsity";
# the dense peak is half of it. First match wins, so specific names come first.
PEAK_TFLOPS: list[tuple[str, float, str]] = [
    (r"H100.*NVL", 835.5, "H100 NVL datasheet: BF16 Tensor Core 1,671 TFLOPS with sparsity"),
    (r"H100.*PCIe", 756.5, "H100 PCIe datasheet: BF16 Tensor Core 1,513 TFLOPS with sparsity"),
    (r"H100", 989.5, "H100 SXM datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity"),
    (r"H200.*NVL", 835.5, "H200 NVL datasheet: BF16 Tensor Core 1,671 TFLOPS with sparsity"),
    (r"H200", 989.5, "H200 SXM datasheet: BF16 Tensor Core 1,979 TFLOPS with sparsity"),
    (r"A100", 312.0, "A100 datasheet: BFLOAT16 Tensor Core 312 TFLOPS (624 with sparsity)"),
    (r"\bA10\b", 125.0, "A10 datasheet: BF16 Tensor Core 125 TFLOPS (250 with sparsity)"),
    (r"L40S", 362.05, "L40S datasheet: BF16 Tensor Core 362.05 TFLOPS (733 with sparsity)"),
    (r"\bL40\b", 181.05, "L40 datasheet: BF16 Tensor Core 181.05 TFLOPS (362.1 with sparsity)"),
    (r"\bL4\b", 121.0, "L4 datasheet: BF16 Tensor Core 242 TFLOPS with sparsity"),
    # no bf16 on these: autocast_dtype() gives fp16, so the fp16 tensor-core peak is the one
    (r"\bT4\b", 65.0, "T4 datasheet: mixed precision (FP16/FP32) 65 TFLOPS; fp16, no bf16"),
    (r"V100.*PCIe", 112.0, "V100 PCIe datasheet: tensor performance 112 TFLOPS; fp16, no bf16"),
    (r"V100", 125.0, "V100 SXM2 datasheet: tensor performance 125 TFLOPS; fp16, no bf16"),
]


def peak_tflops(device_name: str) -> tuple[float, str] | None:
    """``(peak TFLOP/s, source)`` for a card's name, or None for a card not in the table.

    >>> peak_tflops("NVIDIA H100 80GB HBM3")[0], peak_tflops("NVIDIA A100-SXM4-80GB")[0]
    (989.5, 312.0)
    >>> peak_tflops("NVIDIA A10G") is None
    True
    """
    for pattern, tflops, source in PEAK_TFLOPS:
        if re.search(pattern, device_name, flags=re.IGNORECASE):
            return tflops, source
    return None


def conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation,
                        transposed, _output_padding, _groups, output_mask, out_shape=None,
                        **kwargs) -> int:
    """FLOPs of ``aten.convolution_backward``: each gradient asked for costs one forward pass.

    The forward pass costs 2 x batch x (output positions; input positions if transposed)
    x the weight's size, and the weight ``(C_out, C_in / groups, *kernel)`` already holds
    the division by ``groups``. (PyTorch's own formula computes the weight gradient as a
    convolution whose shapes lose that division.)
    """
    positions = math.prod((x_shape if transposed else grad_out_shape)[2:])
    forward = 2 * x_shape[0] * positions * math.prod(w_shape)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def training_step_flops(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> int:
    """FLOPs of one forward + backward pass (convolutions and matrix products), by counting.

    Grouped convolutions are counted by :func:`conv_backward_flops`. The model's gradients
    are cleared afterwards.

    >>> training_step_flops(nn.Linear(10, 5), torch.zeros(4, 10), torch.zeros(4, dtype=torch.long))
    800
    """
    corrected = {torch.ops.aten.convolution_backward: conv_backward_flops}
    with FlopCounterMode(display=False, custom_mapping=corrected) as counter:
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def fraction_of_peak(flops_per_step: float, steps_per_second: float, peak: float) -> float:
    """Achieved FLOP/s over a peak given in TFLOP/s.

    >>> fraction_of_peak(2e12, 10, 100.0)
    0.2
    """
    return flops_per_step * steps_per_second / (peak * 1e12)


def fine_tuning_model(num_classes: int = 10) -> nn.Module:
    """Lessons 03/07's fine-tuning set-up: pretrained Lite0, new head, BatchNorm frozen."""
    return freeze_batchnorm(replace_head(load_backbone("efficientnet_lite0"), num_classes))


def time_steps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int,
               warmup: int = 3, compile: bool = False) -> float:
    """Seconds per ``fit``-like step (autocast, channels_last, AdamW), after ``warmup`` steps."""
    device = images.device
    optimizer = make_optimizer(model, FitConfig(lr=1e-3, backbone_lr=1e-4))
    amp = autocast_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    step_model = torch.compile(model) if compile else model
    model.train()
    x = channels_last(images)

    def step() -> None:
        with torch.autocast(device.type, amp) if amp else nullcontext():
            loss = F.cross_entropy(step_model(x).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="128,224", help="input sizes in px, comma-separated")
    parser.add_argument("--batch", type=int, default=256, help="images per step")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per size")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--device", default=None, help="default: cuda if there is one")
    args = parser.parse_args(argv)
    if args.device is None and not torch.cuda.is_available():
        print("bench_lite0_throughput: skipped, no CUDA device (--device cpu runs it here)")
        return []
    device = torch.device(args.device or "cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = peak_tflops(name) if device.type == "cuda" else None
    print(f"machine: {machine()}")
    print(f"peak: {f'{peak[0]} TFLOP/s bf16 dense ({peak[1]})' if peak else f'{name} not in the table'}")
    data = load_fashion_mnist("train").subset(slice(0, args.batch))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        seed_everything(0)
        model = fine_tuning_model().to(device)
        images = ImageNetInput(size, "efficientnet_lite0")(data.images.to(device))  # (B, 3, size, size), normalised
        labels = data.labels.to(device)
        flops = training_step_flops(model, images, labels)
        seconds = time_steps(model, images, labels, args.steps, compile=args.compile)
        tflops = flops / seconds / 1e12
        row = {"size": size, "batch": args.batch, "gflop_per_image": flops / args.batch / 1e9,
               "images_per_second": args.batch / seconds, "tflops": tflops,
               "fraction_of_peak": fraction_of_peak(flops, 1 / seconds, peak[0]) if peak else None}
        rows.append(row)
        share = f", {row['fraction_of_peak']:.1%} of the bf16 peak" if peak else ""
        print(f"Lite0 fine-tuning, {size} px, batch {args.batch}{', compiled' if args.compile else ''}: "
              f"{row['gflop_per_image']:.2f} GFLOP per image per step, "
              f"{row['images_per_second']:,.0f} img/s, {tflops:.1f} TFLOP/s{share}")
    return rows


if __name__ == "__main__":
    main()
