"""The Fashion-MNIST speedrun at a CPU-sized scale: it learns, and its timing adds up.

The 93% target needs the full data set and a GPU (``make gpu-check``); here 2,000 real
training images, a narrow network and two epochs check the code path and the records.
"""

import json
from dataclasses import replace

import pytest
import torch

from benchmarks.bench_fashion_speedrun import main as bench_main
from benchmarks.bench_fashion_speedrun import parse_overrides, summarise
from course_utils.data.splits import few_shot
from course_utils.training.speedrun import (
    SpeedrunConfig,
    speedrun_net,
    train_speedrun,
    triangular_lr,
)

SMALL = SpeedrunConfig(epochs=2, batch_size=64, stem_width=16, widths=(16, 32, 64))


@pytest.fixture(scope="module")
def small_run(fashion_train, fashion_test):
    train = few_shot(fashion_train, 200, seed=0)  # 2,000 images, 200 per class
    test = fashion_test.subset(slice(0, 1000))
    return train_speedrun(SMALL, train, test, device="cpu", target=0.6)


def test_learns_well_above_chance(small_run):
    # measured 0.73 plain and 0.74 mirror-averaged on this CPU; chance is 0.10
    assert small_run.acc_plain[-1] > 0.6 and small_run.acc_mirrored[-1] > 0.6
    assert small_run.test_acc == small_run.acc_mirrored  # SMALL.tta is on


def test_timing_records_add_up(small_run):
    seconds = small_run.train_seconds
    assert len(seconds) == SMALL.epochs and 0 < seconds[0] < seconds[1]
    assert small_run.images_per_epoch == (2000 // 64) * 64  # the partial last batch is dropped
    assert small_run.images_per_second == pytest.approx(2 * small_run.images_per_epoch / seconds[1])
    epoch = small_run.epoch_at_target
    assert epoch is not None and small_run.test_acc[epoch - 1] >= 0.6
    assert all(acc < 0.6 for acc in small_run.test_acc[:epoch - 1])
    assert small_run.seconds_to_target == seconds[epoch - 1]
    record = json.loads(json.dumps(small_run.as_dict()))
    assert record["config"]["widths"] == [16, 32, 64] and record["epoch_at_target"] == epoch


def test_unreached_target_and_plain_accuracy(small_run):
    missed = replace(small_run, target=1.01)
    assert missed.epoch_at_target is None and missed.seconds_to_target is None
    plain = replace(small_run, config=replace(SMALL, tta=False))
    assert plain.test_acc == small_run.acc_plain


def test_schedule_rises_then_falls_to_zero():
    values = [triangular_lr(step, 100, warmup=0.2) for step in range(101)]
    assert values[0] == 0 and values[20] == 1 and values[100] == 0
    assert values[:21] == sorted(values[:21]) and values[20:] == sorted(values[20:], reverse=True)


def test_network_shape_and_a_too_large_batch(fashion_test):
    net = speedrun_net()
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert 1.0e6 < sum(p.numel() for p in net.parameters()) < 1.3e6  # about 1.16 M parameters
    tiny = fashion_test.subset(slice(0, 10))
    with pytest.raises(ValueError, match="batch_size 64 is larger than the 10 training images"):
        train_speedrun(SMALL, tiny, tiny, device="cpu")


def test_overrides_are_typed_like_the_config():
    assert parse_overrides(["lr=0.3", "widths=8,16,32", "hflip=false", "epochs=4"]) == {
        "lr": 0.3, "widths": (8, 16, 32), "hflip": False, "epochs": 4}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_overrides(["learning_rate=0.3"])
    with pytest.raises(ValueError, match="true or false"):
        parse_overrides(["tta=maybe"])


def test_summary_names_the_fastest_schedule_every_seed_reached(small_run):
    def run(epochs, seconds, accs):
        config = replace(SMALL, epochs=epochs)
        return replace(small_run, config=config, train_seconds=seconds, acc_mirrored=accs,
                       acc_plain=accs, target=0.9)

    results = [run(2, [1.0, 2.0], [0.85, 0.91]), run(2, [1.1, 2.2], [0.86, 0.92]),
               run(3, [1.0, 2.0, 3.0], [0.89, 0.90, 0.93]), run(3, [1.0, 2.0, 3.0], [0.88, 0.89, 0.93])]
    lines = summarise(results, 0.9)
    assert lines[0].startswith("  2 epochs: final test accuracy 0.9150 +- 0.0071 (2 seeds), 2/2 reached")
    assert lines[-1].startswith("fastest to 90.0% with every seed: 2.10 +- 0.14 s")
    assert "the 2-epoch schedule" in lines[-1]
    assert summarise(results[:1], 0.95)[-1] == "no schedule reached 95.0% with every seed"


def test_benchmark_script_runs_small_on_the_cpu(tmp_path, capsys):
    out = tmp_path / "runs.json"
    results = bench_main(["--device", "cpu", "--train-size", "512", "--test-size", "256", "--epochs", "1",
                          "--set", "widths=8,8,8", "--set", "stem_width=8", "--set", "batch_size=128",
                          "--target", "0.2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "machine:" in printed and "warm-up run" in printed and "1 epochs: final test accuracy" in printed
    assert len(results) == 1 and results[0].config.widths == (8, 8, 8)
    assert json.loads(out.read_text())["runs"][0]["config"]["batch_size"] == 128


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_benchmark_script_skips_full_size_without_cuda(capsys):
    assert bench_main([]) == []
    assert "skipped, no CUDA device" in capsys.readouterr().out


def test_reinitialised_network_starts_like_a_new_one():
    from course_utils.runtime import seed_everything
    from course_utils.training.speedrun import reinitialise_

    seed_everything(3)
    fresh = speedrun_net(SMALL)
    used = speedrun_net(SMALL)
    with torch.no_grad():
        for p in used.parameters():
            p.add_(1.0)
        used[2].running_mean.fill_(5.0)  # the first BatchNorm's statistics
    reinitialise_(used, seed=3)
    for (name, a), b in zip(fresh.state_dict().items(), used.state_dict().values()):
        assert torch.equal(a, b), name
