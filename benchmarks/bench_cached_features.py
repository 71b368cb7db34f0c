"""Linear head on cached features versus recomputing the frozen backbone every epoch.

EfficientNet-Lite0 (ImageNet) at 64 px, Fashion-MNIST, 10 epochs, same head init,
same batch order. Prints three speed ratios and the accuracy of both:
- end to end, the one-time extraction included (10 epochs bound this near 10x);
- per training epoch once features exist;
- a re-run that finds the features in the disk cache (a notebook run a second time).
"""

import time

import torch.nn as nn

from benchmarks.common import machine
from course_utils import (
    DeviceLoader,
    ImageNetInput,
    efficientnet_lite0,
    evaluate,
    extract_features,
    few_shot,
    fit,
    freeze,
    get_device,
    load_fashion_mnist,
    replace_head,
    seed_everything,
)

EPOCHS, K, N_TEST, SIZE = 10, 50, 1000, 64


def main() -> None:
    device = get_device()
    train = few_shot(load_fashion_mnist("train"), k=K, seed=0)
    test = load_fashion_mnist("test").subset(slice(0, N_TEST))
    preprocess = ImageNetInput(SIZE, "efficientnet_lite0")

    # Baseline: frozen backbone + new head, the backbone recomputed every epoch.
    seed_everything(0)
    model = freeze(replace_head(efficientnet_lite0(), 10), train_last=0).to(device)
    head_init = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    start = time.perf_counter()
    history = fit(model, DeviceLoader.from_data(train, batch_size=64, shuffle=True, transform=preprocess,
                                                device=device, seed=0),
                  epochs=EPOCHS, lr=1e-3, progress=False)
    t_recompute = time.perf_counter() - start
    acc_recompute = evaluate(model, DeviceLoader.from_data(test, batch_size=256, transform=preprocess,
                                                           device=device))["acc"]

    # Cached: extract once, then train an identical head on the features.
    backbone = efficientnet_lite0().to(device)
    start = time.perf_counter()
    train_features = extract_features(backbone, train.images, preprocess, cache=False)
    t_extract = time.perf_counter() - start
    head = nn.Linear(1280, 10)
    head.load_state_dict(head_init)
    start = time.perf_counter()
    fit(head, DeviceLoader(train_features, train.labels, batch_size=64, shuffle=True, device=device, seed=0),
        epochs=EPOCHS, lr=1e-3, progress=False)
    t_head = time.perf_counter() - start
    test_features = extract_features(backbone, test.images, preprocess, cache=False)
    acc_cached = evaluate(head.to(device), DeviceLoader(test_features, test.labels, batch_size=256,
                                                        device=device))["acc"]
    # A second run of the same notebook: the features come from the disk cache.
    extract_features(backbone, train.images, preprocess)  # fill the cache
    start = time.perf_counter()
    extract_features(backbone, train.images, preprocess)
    t_cache_hit = time.perf_counter() - start

    print(f"machine: {machine()}")
    print(f"recompute every epoch: {t_recompute:.2f} s, test acc {acc_recompute:.3f} (last epoch {history.train_loss[-1]:.3f} loss)")
    print(f"cached: extraction {t_extract:.2f} s + head {t_head:.3f} s, test acc {acc_cached:.3f}")
    print(f"speed ratio end to end (extraction included) = {t_recompute / (t_extract + t_head):.1f}x")
    print(f"speed ratio per epoch after extraction = {t_recompute / t_head:.0f}x")
    print(f"speed ratio on a re-run (disk cache hit {t_cache_hit:.3f} s) = {t_recompute / (t_cache_hit + t_head):.0f}x")
    print(f"accuracy difference = {abs(acc_cached - acc_recompute) * 100:.2f} points (target within 1)")


if __name__ == "__main__":
    main()
