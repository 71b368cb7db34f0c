"""fit on a CUDA GPU with bf16 autocast + channels_last, on versus off.

EfficientNet-Lite0 (ImageNet weights, full fine-tuning) at 128 px on Fashion-MNIST held
on the GPU. Prints images/s for both settings and their ratio. Skips without CUDA.
"""

import torch

from benchmarks.common import compare, report
from course_utils import (
    DeviceLoader,
    ImageNetInput,
    efficientnet_lite0,
    fit,
    load_fashion_mnist,
    replace_head,
    seed_everything,
)

EPOCHS, N_IMAGES, BATCH, SIZE = 1, 8192, 256, 128


def main() -> None:
    if not torch.cuda.is_available():
        print("bench_gpu: skipped, no CUDA device on this machine")
        return
    data = load_fashion_mnist("train").subset(slice(0, N_IMAGES))
    loader = DeviceLoader.from_data(data, batch_size=BATCH, shuffle=True, transform=ImageNetInput(SIZE, "efficientnet_lite0"),
                                    device="cuda")

    def run(fast: bool):
        seed_everything(0)
        model = replace_head(efficientnet_lite0(), 10).cuda()
        history = fit(model, loader, epochs=EPOCHS, lr=1e-3, amp=fast, channels_last=fast, progress=False)
        return history

    t_fast, t_plain = compare(lambda: run(True), lambda: run(False), repeats=3, device=torch.device("cuda"))
    report(EPOCHS * N_IMAGES, ("bf16 + channels_last", t_fast), ("fp32 contiguous", t_plain), "speed")


if __name__ == "__main__":
    main()
