"""FLOP counting and the fraction-of-peak arithmetic of benchmarks/bench_lite0_throughput.py.

No timing is asserted: the GPU figure comes from ``make gpu-check``.
"""

import re

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.bench_lite0_throughput import (
    PEAK_TFLOPS,
    fine_tuning_model,
    fraction_of_peak,
    main,
    peak_tflops,
    training_step_flops,
)

LABELS = torch.zeros(2, dtype=torch.long)


@pytest.mark.parametrize("name, tflops", [
    ("NVIDIA H100 80GB HBM3", 989.5), ("NVIDIA H100 PCIe", 756.5), ("NVIDIA H100 NVL", 835.5),
    ("NVIDIA H200", 989.5), ("NVIDIA H200 NVL", 835.5), ("NVIDIA A100-SXM4-80GB", 312.0),
    ("NVIDIA A100 80GB PCIe", 312.0), ("NVIDIA A10", 125.0), ("NVIDIA L4", 121.0),
    ("NVIDIA L40S", 362.05), ("NVIDIA L40", 181.05), ("Tesla T4", 65.0),
    ("Tesla V100-SXM2-16GB", 125.0), ("Tesla V100-PCIE-32GB", 112.0),
    ("NVIDIA A10G", None), ("NVIDIA GeForce RTX 4090", None),
])
def test_peak_by_card_name(name, tflops):
    found = peak_tflops(name)
    assert (found[0] if found else None) == tflops


def test_each_peak_matches_the_datasheet_figure_it_cites():
    for _, tflops, source in PEAK_TFLOPS:
        cited = {float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.?\d*", source)}
        assert tflops in cited or round(2 * tflops) in cited, source  # dense, or half the sparse figure


def test_flops_of_a_linear_layer_by_hand():
    layer, x = nn.Linear(10, 5), torch.zeros(2, 10)
    # forward 2*2*10*5 = 200; the weight gradient as much again; no input gradient asked for
    assert training_step_flops(layer, x, LABELS) == 400
    assert training_step_flops(layer, x.requires_grad_(True), LABELS) == 600
    assert layer.weight.grad is None  # cleared afterwards


def test_depthwise_convolution_counts_three_forward_passes():
    conv = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())
    x = torch.randn(2, 32, 8, 8, requires_grad=True)
    forward = 2 * 2 * 32 * 8 * 8 * 9  # 2 x batch x channels x positions x kernel
    assert training_step_flops(conv, x, LABELS) == 3 * forward  # forward, input and weight gradients


def test_ungrouped_convolution_agrees_with_pytorchs_own_count():
    conv = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(conv(x), LABELS).backward()
    assert training_step_flops(conv, x, LABELS) == counter.get_total_flops()


def test_lite0_training_step_is_about_three_forward_passes():
    model, x = fine_tuning_model(), torch.rand(2, 3, 64, 64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    forward = counter.get_total_flops()
    step = training_step_flops(model, x, LABELS)
    # measured 2.97: the stem's input needs no gradient, frozen BatchNorm counts nothing
    assert 2.8 * forward < step <= 3 * forward
    assert 0.05e9 < forward / 2 < 0.08e9  # 0.063 GFLOP per image at 64 px (0.77 at 224)


def test_fraction_of_peak_arithmetic():
    assert fraction_of_peak(2e12, 10, 100.0) == pytest.approx(0.2)
    # 2.28 GFLOP per image at 224 px, 10,000 img/s on an H100 SXM: 22.8 TFLOP/s, 2.3% of 989.5
    assert fraction_of_peak(2.28e9 * 256, 10_000 / 256, 989.5) == pytest.approx(0.02304, abs=1e-5)


def test_script_on_the_cpu_prints_achieved_tflops_only(capsys):
    rows = main(["--device", "cpu", "--sizes", "32", "--batch", "4", "--steps", "1"])
    printed = capsys.readouterr().out
    assert "CPU not in the table" in printed and "TFLOP/s" in printed and "of the bf16 peak" not in printed
    assert rows[0]["fraction_of_peak"] is None and rows[0]["images_per_second"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_script_skips_without_cuda(capsys):
    assert main([]) == []
    assert "skipped, no CUDA device" in capsys.readouterr().out
