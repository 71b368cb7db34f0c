"""fit versus a minimal hand-written PyTorch loop: same model, data, optimizer, epochs.

Ratio printed: time(fit) / time(minimal loop); target at most 1.10.
Run: .venv/bin/python benchmarks/bench_fit_overhead.py
"""

import torch
import torch.nn.functional as F

from benchmarks.common import compare, report
from course_utils import (
    DeviceLoader,
    SmallCNN,
    fit,
    get_device,
    load_fashion_mnist,
    seed_everything,
)

BATCH = 128


def main() -> None:
    device = get_device()
    # Enough steps that fit's one-off costs (a shape check, weight copies) are amortised as in real use.
    EPOCHS, N_IMAGES = (3, 20000) if device.type == "cuda" else (2, 4000)
    data = load_fashion_mnist("train").subset(slice(0, N_IMAGES))
    loader = DeviceLoader.from_data(data, batch_size=BATCH, shuffle=True, device=device)

    def with_fit():
        seed_everything(0)
        model = SmallCNN().to(device)
        fit(model, loader, epochs=EPOCHS, lr=1e-3, progress=False, amp=False, channels_last=False)

    def minimal_loop():
        seed_everything(0)
        model = SmallCNN().to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)  # as fit
        model.train()
        for _ in range(EPOCHS):
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

    t_fit, t_min = compare(with_fit, minimal_loop, repeats=5, device=device)
    report(EPOCHS * N_IMAGES, ("fit", t_fit), ("minimal loop", t_min), "overhead")
    print("target: overhead ratio <= 1.10")


if __name__ == "__main__":
    main()
