"""DistributedDataParallel on 2 CPU processes (gloo) equals one process with the same global batch."""

import pytest
import torch

from course_utils.deployment.distributed import (
    build_model,
    load_images,
    max_weight_difference,
    relative_gap,
    shard,
    torchrun,
    train_one_process,
    write_script,
)
from tests.deployment_helpers import needs_pneumonia

STEPS, GLOBAL_BATCH, IMAGES = 3, 16, 64


def test_shards_split_a_global_batch_evenly():
    batch = torch.arange(12)
    assert torch.equal(torch.cat([shard(batch, r, 3) for r in range(3)]), batch)
    with pytest.raises(ValueError, match="does not split into 5 equal shares"):
        shard(batch, 0, 5)


@needs_pneumonia
@pytest.mark.slow
def test_two_gloo_processes_match_single_process_training(tmp_path):
    script = write_script(tmp_path)
    out = tmp_path / "ddp.pt"
    torchrun(script, nproc=2, args=("--steps", str(STEPS), "--global-batch", str(GLOBAL_BATCH),
                                    "--images", str(IMAGES), "--out", str(out), "--float64"), timeout=600)
    ddp = torch.load(out, weights_only=True)
    assert ddp["world_size"] == 2 and ddp["state_dict"]["classifier.weight"].dtype == torch.float64

    initial = build_model(seed=0, dtype=torch.float64).state_dict()
    images, labels = load_images(IMAGES, torch.float64)
    single, losses = train_one_process(images, labels, STEPS, GLOBAL_BATCH)
    assert ddp["losses"] == pytest.approx(losses, abs=1e-9)
    assert max_weight_difference(single, initial) > 1e-4  # the steps really trained
    # In float64 honest DDP differs from one process by rounding only: measured about 2e-14 under
    # AVX-512, AVX2 and the default kernels. In float32 rounding reached 3e-3 on an AVX2 machine,
    # too close to a real bug's size (below) to tell apart on every processor (issue 21).
    assert relative_gap(ddp["state_dict"], single, initial) < 1e-9
    # Controls the check must see, orders of magnitude above the bound:
    # an all-reduce that sums instead of averaging (measured 6e-3 to 9e-3)
    summed, _ = train_one_process(images, labels, STEPS, GLOBAL_BATCH, loss_scale=2.0)
    assert relative_gap(summed, single, initial) > 1e-4
    # rank 0's share without any all-reduce (measured about 0.7)
    alone, _ = train_one_process(images, labels, STEPS, GLOBAL_BATCH, rank=0, world_size=2)
    assert relative_gap(alone, single, initial) > 0.1


def test_torchrun_failures_show_the_output(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("raise SystemExit('deliberate failure in the training script')\n")
    with pytest.raises(RuntimeError, match="deliberate failure"):
        torchrun(script, nproc=1, timeout=300)
