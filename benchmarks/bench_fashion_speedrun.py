"""The Fashion-MNIST speedrun: seconds to 93% test accuracy, and images/s, on one GPU.

Trains ``course_utils.training.speedrun`` (device-resident data, batched augmentation,
bf16 autocast, channels_last, optional torch.compile) for each schedule length in
``--epochs`` and each of ``--seeds`` seeds, testing after every epoch. Time is training
only: the device is synchronised around each epoch and the test evaluation is not
counted. "Seconds to target" is the training time up to the end of the first epoch whose
test accuracy reaches ``--target``; the headline is the shortest schedule whose every seed
reaches it. One network object is trained from fresh weights in every run, so that
``torch.compile`` compiles once: in a warm-up run, timed apart with cuDNN's autotuning.

On a GPU (what ``make gpu-check`` runs):
    python -m benchmarks.bench_fashion_speedrun --compile --epochs 4,6,8,10,12 --seeds 3
A small run on a CPU (a smoke test, not a measurement):
    python -m benchmarks.bench_fashion_speedrun --train-size 2000 --test-size 1000 --epochs 2 --seeds 1
Prints only; ``--json PATH`` also writes every run's record there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import fields, replace
from pathlib import Path

import torch

from benchmarks.common import machine
from course_utils.data.datasets import load_fashion_mnist
from course_utils.training.speedrun import (
    SpeedrunConfig,
    SpeedrunResult,
    speedrun_net,
    train_speedrun,
)


def parse_overrides(items: list[str]) -> dict:
    """``["lr=0.3", "widths=64,128,256", "hflip=false"]`` to typed SpeedrunConfig fields."""
    defaults = SpeedrunConfig()
    known = {f.name for f in fields(SpeedrunConfig)}
    overrides = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in known or not text:
            raise ValueError(f"--set {item!r}: expected NAME=VALUE with NAME one of {sorted(known)}")
        default = getattr(defaults, name)
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"--set {item!r}: {name} is true or false")
            overrides[name] = text.lower() in ("true", "1")
        elif isinstance(default, tuple):
            overrides[name] = tuple(int(v) for v in text.split(","))
        else:
            overrides[name] = type(default)(text)
    return overrides


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", default="10",
                        help="schedule lengths to try, comma-separated (default: 10)")
    parser.add_argument("--seeds", type=int, default=1, help="runs per schedule, seeds 0..N-1")
    parser.add_argument("--target", type=float, default=0.93, help="test accuracy to reach")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: the best there is)")
    parser.add_argument("--train-size", type=int, default=None, help="first N training images only")
    parser.add_argument("--test-size", type=int, default=None, help="first N test images only")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a SpeedrunConfig field, e.g. --set lr=0.3 (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print every epoch of every run")
    parser.add_argument("--json", type=Path, default=None, help="also write the records here")
    args = parser.parse_args(argv)
    args.epochs = [int(e) for e in str(args.epochs).split(",")]
    args.overrides = parse_overrides(args.set)
    return args


def summarise(results: list[SpeedrunResult], target: float) -> list[str]:
    """One line per schedule length (mean +- sd over seeds), then the headline."""
    lines, reached_by_all = [], []
    for epochs in sorted({r.config.epochs for r in results}):
        runs = [r for r in results if r.config.epochs == epochs]
        final = [r.test_acc[-1] for r in runs]
        speed = statistics.mean(r.images_per_second for r in runs)
        to_target = [r.seconds_to(target) for r in runs if r.seconds_to(target) is not None]
        spread = f" +- {statistics.stdev(final):.4f}" if len(final) > 1 else ""
        line = (f"{epochs:>3} epochs: final test accuracy {statistics.mean(final):.4f}{spread} "
                f"({len(runs)} seeds), {len(to_target)}/{len(runs)} reached {target:.1%}, "
                f"{speed:,.0f} img/s")
        if to_target:
            line += f", {statistics.mean(to_target):.2f} s to target (mean of those)"
        lines.append(line)
        if len(to_target) == len(runs):
            reached_by_all.append((epochs, to_target))
    if reached_by_all:
        epochs, seconds = min(reached_by_all, key=lambda pair: statistics.mean(pair[1]))
        spread = f" +- {statistics.stdev(seconds):.2f}" if len(seconds) > 1 else ""
        lines.append(f"fastest to {target:.1%} with every seed: {statistics.mean(seconds):.2f}{spread} s "
                     f"of training (the {epochs}-epoch schedule; evaluation excluded)")
    else:
        lines.append(f"no schedule reached {target:.1%} with every seed")
    return lines


def main(argv: list[str] | None = None) -> list[SpeedrunResult]:
    args = parse_args(argv)
    device = torch.device(args.device) if args.device else (
        torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    if device.type == "cpu" and args.train_size is None:
        print("bench_fashion_speedrun: skipped, no CUDA device (hours on a CPU); "
              "--train-size 2000 runs a small version here")
        return []
    torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick its fastest kernels
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    if args.train_size:
        train = train.subset(slice(0, args.train_size))
    if args.test_size:
        test = test.subset(slice(0, args.test_size))
    base = replace(SpeedrunConfig(compile=args.compile), **args.overrides)
    print(f"machine: {machine()}")
    print(f"device: {device}; {len(train)} training, {len(test)} test images; config: {base}")

    net = speedrun_net(base, num_classes=len(train.classes))  # one network, compiled once, every run
    start = time.perf_counter()
    train_speedrun(replace(base, epochs=1), train, test, device, net=net)
    print(f"warm-up run (1 epoch: compilation, cuDNN autotuning): {time.perf_counter() - start:.1f} s")

    results = []
    print(f"{'epochs':>6} {'seed':>4} {'final acc':>9} {'(plain)':>8} {'train s':>8} {'img/s':>9} "
          f"{'epoch@target':>12} {'s to target':>11}   accuracy by epoch")
    for epochs in args.epochs:
        for seed in range(args.seeds):
            config = replace(base, epochs=epochs, seed=seed)
            result = train_speedrun(config, train, test, device, target=args.target,
                                    log=print if args.verbose else None, net=net)
            results.append(result)
            at = result.epoch_at_target
            print(f"{epochs:>6} {seed:>4} {result.test_acc[-1]:9.4f} {result.acc_plain[-1]:8.4f} "
                  f"{result.train_seconds[-1]:8.2f} {result.images_per_second:9,.0f} "
                  f"{at if at else '-':>12} "
                  f"{f'{result.seconds_to_target:.2f}' if at else '-':>11}   "
                  + " ".join(f"{a:.3f}" for a in result.test_acc))
    for line in summarise(results, args.target):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runs": [r.as_dict() for r in results]},
                                        indent=1))
        print(f"records written to {args.json}")
    return results


if __name__ == "__main__":
    main()
