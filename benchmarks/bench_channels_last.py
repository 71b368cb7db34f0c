"""fit with NHWC (channels_last) memory order versus the usual NCHW, on this machine's device.

Ratio printed: time(NCHW) / time(NHWC), "speed" (higher is better). The same model, data,
optimizer and steps; only FitConfig.channels_last differs. Two workloads: the Lite0
fine-tuning that lessons 03 and 07 run (40 px, all layers training), and the small CNN.
Run: .venv/bin/python -m benchmarks.bench_channels_last
"""

from benchmarks.common import compare, report
from course_utils import (
    DeviceLoader,
    ImageNetInput,
    SmallCNN,
    fit,
    get_device,
    load_backbone,
    load_fashion_mnist,
    replace_head,
    seed_everything,
)
from course_utils.training.finetune import freeze_batchnorm


def main() -> None:
    device = get_device()
    data = load_fashion_mnist("train").subset(slice(0, 1024 if device.type == "cpu" else 8192))
    workloads = {
        "Lite0 fine-tuning, 40 px, batch 64": (
            lambda: freeze_batchnorm(replace_head(load_backbone("efficientnet_lite0"), 10)),
            DeviceLoader.from_data(data, batch_size=64, shuffle=True, transform=ImageNetInput(40, "efficientnet_lite0"),
                                   device=device)),
        "SmallCNN, 28 px, batch 128": (
            lambda: SmallCNN(),
            DeviceLoader.from_data(data, batch_size=128, shuffle=True, device=device)),
    }
    for name, (build, loader) in workloads.items():
        def run(nhwc: bool, build=build, loader=loader, name=name):
            seed_everything(0)
            fit(build().to(device), loader, epochs=1, lr=1e-3, backbone_lr=1e-4 if "Lite0" in name else None,
                progress=False, amp=False, channels_last=nhwc)

        t_nhwc, t_nchw = compare(lambda: run(True), lambda: run(False), repeats=3, device=device)
        print(f"--- {name}")
        report(len(data), ("NHWC", t_nhwc), ("NCHW", t_nchw), "speed")


if __name__ == "__main__":
    main()
