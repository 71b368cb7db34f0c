import math

import matplotlib
import pytest
import torch

from course_utils.data.loaders import DeviceLoader
from course_utils.data.splits import few_shot
from course_utils.evaluation import evaluate
from course_utils.models.backbones import SmallCNN
from course_utils.models.surgery import freeze
from course_utils.training import fit
from course_utils.training.lr_finder import LRRangeResult, lr_range_test, plot_lr_range

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def small_fashion(fashion_train):
    return few_shot(fashion_train, 40, seed=0)  # 400 real images


def test_sweep_is_geometric_and_model_is_restored(small_fashion):
    torch.manual_seed(0)
    model = SmallCNN()
    freeze(model, train_last=1)  # frozen BatchNorm layers and buffers must survive too
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = DeviceLoader.from_data(small_fashion, batch_size=64, shuffle=True)
    result = lr_range_test(model, loader, start_lr=1e-5, end_lr=1e-1, num_steps=12)
    assert len(result.lrs) == len(result.losses) == 12  # cycles the 7-batch loader
    assert result.lrs[0] == pytest.approx(1e-5) and result.lrs[-1] == pytest.approx(1e-1)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert max(ratios) == pytest.approx(min(ratios))
    assert all(math.isfinite(v) for v in result.losses)
    assert not model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_loss_falls_then_diverges_and_the_suggestion_trains(small_fashion):
    torch.manual_seed(0)
    model = SmallCNN()
    loader = DeviceLoader.from_data(small_fashion, batch_size=32, shuffle=True)
    result = lr_range_test(model, loader, start_lr=1e-5, end_lr=10.0, num_steps=60,
                           optimizer="sgd")
    assert result.stopped == "diverged"  # SGD at lr 10 blows up
    assert min(result.losses) < result.losses[0] - 0.3  # useful rates exist in between
    assert 1e-4 < result.suggestion() < result.min_loss_lr < 10.0
    # Four epochs, not two: after two, accuracy ranged 0.28-0.50 over seeds and CPU capabilities
    # (AVX2 gave 0.335 against AVX-512's 0.415), a knife edge; after four, 0.65-0.80 (issue 21).
    start = {k: v.clone() for k, v in model.state_dict().items()}
    history = fit(model, loader, epochs=4, optimizer="sgd", lr=result.suggestion(), progress=False)
    assert history.train_loss[-1] < 1.2 and evaluate(model, loader)["acc"] > 0.5
    model.load_state_dict(start)  # control: the sweep's first rate trains nothing in the same budget
    fit(model, loader, epochs=4, optimizer="sgd", lr=result.lrs[0], progress=False)
    assert evaluate(model, loader)["acc"] < 0.3


def test_rejects_bad_arguments():
    model = SmallCNN()
    loader = DeviceLoader(torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_range_test(model, loader, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="optimizer"):
        lr_range_test(model, loader, optimizer="lion")
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        lr_range_test(model, loader)


def test_suggestion_and_plot():
    result = LRRangeResult(lrs=[1e-4, 1e-3, 1e-2, 1e-1], losses=[2.3, 1.5, 1.0, 4.0])
    assert result.min_loss_lr == 1e-2 and result.suggestion() == pytest.approx(1e-3)
    fig = plot_lr_range(result)
    assert fig.axes[0].get_xscale() == "log" and len(fig.axes[0].lines) == 3
