import pytest
import torch
import torch.nn as nn

from course_utils.models.backbones import SmallCNN, load_backbone
from course_utils.models.surgery import (
    count_parameters,
    freeze,
    freeze_by_name,
    param_groups,
    replace_head,
    stages,
    unfreeze,
)


def test_replace_head_keeps_features_and_adds_dropout(lite0):
    model = replace_head(load_backbone("efficientnet_lite0", pretrained=False), 7, dropout=0.2)
    assert isinstance(model.classifier[0], nn.Dropout) and model.classifier[1].out_features == 7
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)


def test_freeze_counts_and_linear_probe():
    model = replace_head(load_backbone("efficientnet_lite0", pretrained=False), 10)
    total = count_parameters(model)
    freeze(model, train_last=0)
    assert count_parameters(model) == 1280 * 10 + 10
    freeze(model, train_last=2)
    last_two = sum(p.numel() for s in stages(model)[-2:] for p in s.parameters())
    assert count_parameters(model) == last_two + 1280 * 10 + 10
    unfreeze(model)
    assert count_parameters(model) == total == count_parameters(model, trainable_only=False)
    with pytest.raises(ValueError, match="train_last must be in 0..9"):
        freeze(model, train_last=10)


def test_frozen_batchnorm_stays_in_eval_mode_and_keeps_statistics(fashion_test):
    model = replace_head(SmallCNN(), 10)
    freeze(model, train_last=1)
    model.train()
    frozen_bn, trained_bn = model.stages[0][1], model.stages[-1][1]
    before = frozen_bn.running_mean.clone()
    model(fashion_test.images[:64].float() / 255)
    assert torch.equal(frozen_bn.running_mean, before) and not frozen_bn.training
    assert trained_bn.training
    unfreeze(model)
    model.train()
    model(fashion_test.images[:64].float() / 255)
    assert not torch.equal(frozen_bn.running_mean, before) and frozen_bn.training


def test_freeze_by_name_and_error():
    model = freeze_by_name(SmallCNN(), ("stages.0", "stages.1"))
    assert not model.stages[1][0].weight.requires_grad and model.stages[2][0].weight.requires_grad
    with pytest.raises(ValueError, match="no sub-module of SmallCNN starts with"):
        freeze_by_name(model, ("encoder",))


def test_param_groups_split_learning_rates_and_decay():
    model = replace_head(SmallCNN(), 3)
    groups = param_groups(model, backbone_lr=1e-4, head_lr=1e-2, weight_decay=0.05)
    head = {id(p) for p in model.classifier.parameters()}
    for group in groups:
        in_head = {id(p) in head for p in group["params"]}
        assert len(in_head) == 1
        assert group["lr"] == (1e-2 if in_head.pop() else 1e-4)
        assert group["weight_decay"] == (0.05 if group["params"][0].ndim > 1 else 0.0)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    torch.optim.AdamW(groups)  # accepted by an optimizer as is


def test_stages_of_each_architecture():
    assert len(stages(SmallCNN())) == 3
    assert len(stages(load_backbone("resnet18", pretrained=False))) == 5
    with pytest.raises(ValueError, match="don't know the stages of Linear"):
        stages(nn.Linear(2, 2))


def test_frozen_batchnorm_unlocked_refreezes_after_an_error():
    from course_utils.models.surgery import frozen_batchnorm_unlocked, set_trainable

    net = SmallCNN()
    set_trainable(net.stages[0], False)                      # only the first stage's BN is frozen
    frozen_bn, free_bn = net.stages[0][1], net.stages[1][1]
    with pytest.raises(RuntimeError, match="interrupted"):
        with frozen_batchnorm_unlocked(net) as norms:
            assert frozen_bn in norms and free_bn in norms
            net.train()(torch.zeros(2, 1, 28, 28))
            assert frozen_bn.training                         # unlocked inside the block
            raise RuntimeError("interrupted")
    net.train()(torch.zeros(2, 1, 28, 28))
    assert not frozen_bn.training and free_bn.training        # frozen again; the free one untouched
