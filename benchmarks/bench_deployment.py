"""Serving speed: eager PyTorch vs ONNX Runtime (fp32), and int8 vs fp32 in ONNX Runtime.

The predictor lesson 08 deploys: EfficientNet-Lite0 with a 2-class head, PneumoniaMNIST
X-rays (28 px, upsampled to 40 px inside the graph). Batch-1 latency (p50 and p95) and
batch-64 throughput, all candidates interleaved call by call in one process (so a busy
machine slows them alike); ratios are what to read. The int8 model is calibrated on the
validation images. Eager PyTorch runs under ``torch.inference_mode``, in the usual (NCHW)
and the channels-last (NHWC) memory order.
Run: .venv/bin/python -m benchmarks.bench_deployment
"""

import copy
import tempfile
from pathlib import Path

import torch

from benchmarks.common import machine
from course_utils import load_backbone, load_medmnist, replace_head
from course_utils.deployment import Predictor
from course_utils.deployment.export import export_onnx, file_size_mb, onnx_runner, onnx_session
from course_utils.deployment.quantize import quantize_onnx
from course_utils.deployment.speed import summarize, time_interleaved
from course_utils.runtime import channels_last, configure_threads

REPEATS = {1: 300, 64: 40}


def main() -> None:
    threads = configure_threads()
    model = replace_head(load_backbone("efficientnet_lite0"), 2)
    predictor = Predictor(model, {"backbone": "efficientnet_lite0", "num_classes": 2},
                          {"channels": 1, "source_size": 28, "input_size": 40}, ["normal", "pneumonia"], "1.0.0")
    val, test = load_medmnist("pneumoniamnist", "val"), load_medmnist("pneumoniamnist", "test")
    folder = Path(tempfile.mkdtemp())
    fp32_path = export_onnx(predictor, folder / "model.onnx", val.images[:2].float() / 255)
    int8_path = quantize_onnx(fp32_path, folder / "model_int8.onnx", val.images)
    fp32, int8 = onnx_runner(onnx_session(fp32_path)), onnx_runner(onnx_session(int8_path))
    network = predictor.network.eval()
    preprocess, nhwc = network[0], copy.deepcopy(model).to(memory_format=torch.channels_last).eval()

    def eager(x):
        with torch.inference_mode():
            return network(x)

    def eager_nhwc(x):
        with torch.inference_mode():
            return nhwc(channels_last(preprocess(x)))

    print(f"machine: {machine()}, {threads} threads")
    print(f"files: fp32 ONNX {file_size_mb(fp32_path):.1f} MB, int8 ONNX {file_size_mb(int8_path):.1f} MB")
    for batch, repeats in REPEATS.items():
        x = test.images[:batch].float() / 255
        array = x.numpy()
        candidates = {"eager NCHW": lambda x=x: eager(x), "eager NHWC": lambda x=x: eager_nhwc(x),
                      "ORT fp32": lambda a=array: fp32(a), "ORT int8": lambda a=array: int8(a)}
        times = time_interleaved(candidates, repeats=repeats, warmup=5)
        stats = {name: summarize(t, batch) for name, t in times.items()}
        print(f"--- batch {batch}, {repeats} interleaved rounds")
        for name, s in stats.items():
            print(f"{name:11s} p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  {s['images_per_s']:7.0f} img/s")
        base = stats["eager NCHW"]["p50_ms"]
        print("speed ratios vs eager NCHW (p50): " + ", ".join(
            f"{name} {base / s['p50_ms']:.2f}x" for name, s in stats.items() if name != "eager NCHW"))
        print(f"speed ratio ORT int8 vs ORT fp32 (p50): {stats['ORT fp32']['p50_ms'] / stats['ORT int8']['p50_ms']:.2f}x")


if __name__ == "__main__":
    main()
