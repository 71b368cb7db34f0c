"""L2-SP, AdaBN and layer-wise learning-rate decay, on real Fashion-MNIST images."""

import pytest
import torch

from course_utils.data.loaders import DeviceLoader
from course_utils.data.splits import few_shot
from course_utils.models.backbones import SmallCNN
from course_utils.models.surgery import (
    freeze,
    layerwise_groups,
    replace_head,
    set_trainable,
    stages,
)
from course_utils.training import Callback, fit
from course_utils.training.anchoring import L2SP, adapt_batchnorm
from course_utils.training.lr_finder import lr_range_test


@pytest.fixture
def fashion_batches(fashion_train):
    """A fresh loader per test: the same 200 real images in the same shuffled order."""
    data = few_shot(fashion_train, 20, seed=0)
    return DeviceLoader.from_data(data, batch_size=50, shuffle=True, seed=0)


def pretrained_like(seed=0):
    torch.manual_seed(seed)
    return SmallCNN(in_channels=1, num_classes=10, widths=(8, 16))


def backbone_distance(model, start):
    return sum((p - start[name]).pow(2).sum() for name, p in model.named_parameters()
               if not name.startswith("classifier")).sqrt().item()


def test_l2sp_keeps_the_backbone_nearer_its_start(fashion_batches):
    distances = {}
    for alpha in (0.0, 50.0):
        model = pretrained_like()
        start = {k: v.clone() for k, v in model.named_parameters()}
        anchor = L2SP(alpha)
        fit(model, fashion_batches, epochs=3, lr=3e-3, callbacks=[anchor], progress=False)
        distances[alpha] = backbone_distance(model, start)
        assert anchor.distance(model) == pytest.approx(distances[alpha], rel=1e-4)
        assert all(name.startswith("stages") for name, p in model.named_parameters()
                   if id(p) in anchor.anchors)  # the new head has no anchor
    assert distances[50.0] < 0.5 * distances[0.0]


def test_l2sp_with_alpha_zero_is_plain_fine_tuning(fashion_train):
    weights = []
    for callbacks in ([], [L2SP(0.0)]):
        model = pretrained_like()
        batches = DeviceLoader.from_data(few_shot(fashion_train, 20, seed=0), batch_size=50,
                                         shuffle=True, seed=0)
        fit(model, batches, epochs=1, lr=1e-3, callbacks=callbacks, progress=False)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(weights[0], weights[1])
    with pytest.raises(ValueError, match="alpha"):
        L2SP(-1.0)


def test_adapt_batchnorm_measures_the_target_statistics(fashion_batches):
    model = pretrained_like().eval()
    first_conv, first_bn = model.stages[0][0], model.stages[0][1]
    set_trainable(model.stages, False)  # frozen BatchNorm: adapted all the same, frozen after
    momentum = first_bn.momentum
    adapt_batchnorm(model, fashion_batches)
    with torch.no_grad():
        conv_out = torch.cat([first_conv(x) for x, _ in fashion_batches])
    assert torch.allclose(first_bn.running_mean, conv_out.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(first_bn.running_var, conv_out.var((0, 2, 3)), rtol=1e-2)
    assert first_bn.momentum == momentum and not model.training
    model.train()
    before = first_bn.running_mean.clone()
    model(next(iter(fashion_batches))[0])
    assert torch.equal(first_bn.running_mean, before)  # still frozen: the forward did not move it


def test_adapt_batchnorm_names_what_is_missing():
    with pytest.raises(ValueError, match="no BatchNorm"):
        adapt_batchnorm(torch.nn.Linear(2, 2), [torch.zeros(1, 2)])
    with pytest.raises(ValueError, match="no images"):
        adapt_batchnorm(pretrained_like(), [])


class GroupRates(Callback):
    def before_fit(self, trainer):
        self.rates = {id(p): g["lr"] for g in trainer.optimizer.param_groups for p in g["params"]}


def test_layer_decay_gives_each_stage_its_rate(fashion_batches):
    model = pretrained_like()
    recorder = GroupRates()
    fit(model, fashion_batches, epochs=1, lr=1e-3, layer_decay=0.5, callbacks=[recorder],
        progress=False)
    n = len(stages(model))
    for i, stage in enumerate(stages(model)):
        assert all(recorder.rates[id(p)] == pytest.approx(1e-3 * 0.5 ** (n - i)) for p in stage.parameters())
    assert all(recorder.rates[id(p)] == 1e-3 for p in model.classifier.parameters())
    with pytest.raises(ValueError, match="not both"):
        fit(model, fashion_batches, epochs=1, lr=1e-3, backbone_lr=1e-4, layer_decay=0.5, progress=False)


def test_layerwise_groups_skip_frozen_stages_and_check_decay():
    model = freeze(replace_head(pretrained_like(), 5), train_last=1)
    groups = layerwise_groups(model, head_lr=1e-2, decay=0.1)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert {id(p) for g in groups for p in g["params"]} == trainable
    assert sorted({round(g["lr"], 8) for g in groups}) == [1e-3, 1e-2]
    with pytest.raises(ValueError, match="decay"):
        layerwise_groups(model, head_lr=1e-2, decay=0.0)


def test_range_test_can_sweep_with_discriminative_rates(fashion_batches, monkeypatch):
    seen = []
    original_step = torch.optim.AdamW.step

    def spying_step(self, *args, **kwargs):
        seen.append(sorted(g["lr"] for g in self.param_groups))
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spying_step)
    result = lr_range_test(pretrained_like(), fashion_batches, start_lr=1e-4, end_lr=1e-2,
                           num_steps=5, backbone_ratio=0.1)
    assert len(seen) == len(result.lrs) == 5
    for rates, lr in zip(seen, result.lrs):  # head at the swept rate, backbone at a tenth
        assert min(rates) == pytest.approx(lr / 10) and max(rates) == pytest.approx(lr)
    with pytest.raises(ValueError, match="backbone_ratio"):
        lr_range_test(pretrained_like(), fashion_batches, backbone_ratio=0.0)
