"""Data-parallel training with DistributedDataParallel (DDP), run as a script under ``torchrun``.

Every process holds a copy of the model and takes its share of each global batch. After
``loss.backward()`` DDP averages the gradients of all processes (an *all-reduce*), so every
copy takes the same optimizer step: with the shares equal, the averaged gradient is the
gradient of the whole global batch, and the run matches single-process training with that
batch, up to floating-point rounding. Two conditions: the same initial weights (DDP
broadcasts rank 0's) and no layer that mixes examples across the batch (BatchNorm in training
mode normalises with each process's own share: keep it frozen, or use SyncBatchNorm on GPUs).

This file is the script. Run it on 2 CPU processes (backend gloo; on GPUs use nccl)::

    torchrun --standalone --nproc_per_node=2 distributed.py --steps 4 --global-batch 32 --out ddp.pt

and compare with :func:`train_steps` in one process (``world_size=1``), same arguments.
Add ``--float64`` to train in double precision: then the two runs agree to about 1e-12, and a
real bug (a summed instead of averaged all-reduce, a missing one) stands out by many orders of
magnitude, on any processor. In float32 rounding alone reached 3e-3 after a few steps on an
AVX2 machine, and on AdamW a summed all-reduce gives only about 1e-2: too close to tell apart.

>>> shard(torch.arange(8), rank=1, world_size=2).tolist()
[4, 5, 6, 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This process's contiguous share of a global batch (the batch size must divide evenly)."""
    if len(batch) % world_size:
        raise ValueError(f"a global batch of {len(batch)} does not split into {world_size} equal shares")
    size = len(batch) // world_size
    return batch[rank * size:(rank + 1) * size]


def build_model(seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Module:
    """EfficientNet-Lite0 (ImageNet weights) with a seeded 2-class head and frozen BatchNorm."""
    from course_utils.models.backbones import load_backbone
    from course_utils.models.surgery import replace_head
    from course_utils.training.finetune import freeze_batchnorm

    torch.manual_seed(seed)
    return freeze_batchnorm(replace_head(load_backbone("efficientnet_lite0"), 2)).to(dtype)


def load_images(count: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` PneumoniaMNIST training images, preprocessed for Lite0 at 40 px."""
    from course_utils.data.datasets import load_medmnist
    from course_utils.data.transforms import imagenet_preprocess

    data = load_medmnist("pneumoniamnist", "train").subset(slice(0, count))
    return imagenet_preprocess(data.images, "efficientnet_lite0", 40).to(dtype), data.labels


def train_steps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int,
                global_batch: int, lr: float = 1e-3, rank: int = 0, world_size: int = 1,
                seed: int = 0, loss_scale: float = 1.0) -> list[float]:
    """``steps`` AdamW steps; each process trains on its share of every global batch.

    The global batches are drawn from ``seed`` identically in every process. Returns the
    loss of each step over the whole global batch (averaged across processes). Called with
    ``world_size > 1`` outside a process group, it shows what one process would learn alone
    from its share, with no all-reduce. ``loss_scale=2`` in one process reproduces what a
    2-process all-reduce that *sums* instead of averaging would do (a control for the check).
    """
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    order = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(steps):
        batch = torch.randperm(len(images), generator=order)[:global_batch]  # same on every rank
        mine = shard(batch, rank, world_size)
        loss = F.cross_entropy(model(images[mine]), labels[mine])
        optimizer.zero_grad(set_to_none=True)
        (loss * loss_scale).backward()  # under DDP: gradients all-reduced (averaged) here
        optimizer.step()
        reported = loss.detach().clone()
        if world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.all_reduce(reported)
            reported /= world_size
        losses.append(reported.item())
    return losses


def train_one_process(images: torch.Tensor, labels: torch.Tensor, steps: int, global_batch: int,
                      seed: int = 0, **options) -> tuple[dict[str, torch.Tensor], list[float]]:
    """The single-process reference run: :func:`build_model` in the images' dtype, then
    :func:`train_steps` (``options``: its ``rank``/``world_size``/``loss_scale`` controls).

    Returns the final state dict and the losses.
    """
    model = build_model(seed, images.dtype)
    losses = train_steps(model, images, labels, steps, global_batch, seed=seed, **options)
    return model.state_dict(), losses


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A few DDP training steps on PneumoniaMNIST.")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--float64", action="store_true", help="train in double precision")
    parser.add_argument("--out", required=True, help="rank 0 saves the final weights and losses here")
    args = parser.parse_args(argv)

    from torch.nn.parallel import DistributedDataParallel as DDP

    cuda = torch.cuda.is_available()
    torch.distributed.init_process_group("nccl" if cuda else "gloo")  # torchrun sets rank and world
    rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu")
    try:
        dtype = torch.float64 if args.float64 else torch.float32
        model = build_model(args.seed, dtype).to(device)
        images, labels = (t.to(device) for t in load_images(args.images, dtype))
        ddp = DDP(model, device_ids=[device.index] if cuda else None)  # broadcasts rank 0's weights
        losses = train_steps(ddp, images, labels, args.steps, args.global_batch, args.lr,
                             rank, world_size, args.seed)
        if rank == 0:
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            torch.save({"state_dict": state, "losses": losses, "world_size": world_size}, args.out)
            print(f"rank 0 of {world_size}: losses {[round(v, 4) for v in losses]}, saved {args.out}")
        # Leave together: a rank that tore gloo down while the other was still saving aborted
        # once ("terminate called without an active exception") in a CI run.
        torch.distributed.barrier()
    finally:
        torch.distributed.destroy_process_group()


# ---------------------------------------------------------------- used by the lesson and the tests

def write_script(folder: str | Path) -> Path:
    """Write this script to ``folder/ddp_train.py`` and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "ddp_train.py"
    shutil.copyfile(__file__, target)
    return target


def torchrun(script: str | Path, nproc: int = 2, args: tuple[str, ...] = (),
             timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run ``script`` under ``torchrun --standalone`` with ``nproc`` processes of one thread each.

    Raises with the processes' output if the run fails.
    """
    env = os.environ.copy() | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", str(script), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"torchrun failed with code {result.returncode}:\n"
                           f"{(result.stdout + result.stderr)[-4000:]}")
    return result


def relative_gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor],
                 initial: dict[str, torch.Tensor]) -> float:
    """|a - b| / |b - initial| over all floating-point weights: how far two runs ended apart,
    as a fraction of how far training moved the weights.

    >>> w0, w1 = {"w": torch.zeros(2)}, {"w": torch.tensor([3.0, 4.0])}
    >>> relative_gap({"w": torch.tensor([3.0, 4.5])}, w1, w0)
    0.1
    """
    keys = [k for k in b if b[k].is_floating_point()]
    gap = sum((a[k].double() - b[k].double()).pow(2).sum() for k in keys)
    update = sum((b[k].double() - initial[k].double()).pow(2).sum() for k in keys)
    return float((gap / update).sqrt())


def max_weight_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between two state dicts' floating-point tensors."""
    if a.keys() != b.keys():
        raise ValueError(f"the state dicts have different keys: {sorted(a.keys() ^ b.keys())[:5]}")
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())


if __name__ == "__main__":
    main()
