import torch
import torch.nn as nn

from course_utils.exercises import lesson03
from course_utils.models.backbones import efficientnet_lite0
from course_utils.models.surgery import count_parameters, freeze, replace_head, set_trainable


def test_trainable_params(capsys):
    model = replace_head(efficientnet_lite0(pretrained=False), 10)
    right = count_parameters(freeze(model, train_last=2))
    assert lesson03.trainable_params.check(right)
    assert not lesson03.trainable_params.check(1280 * 10 + 10)  # the head alone
    assert "not yet" in capsys.readouterr().out


def test_discriminative_groups():
    def right(model):
        head = {id(p) for p in model.classifier.parameters()}
        return [{"params": [p for p in model.parameters() if id(p) not in head], "lr": 1e-4},
                {"params": list(model.classifier.parameters()), "lr": 1e-3}]

    def swapped(model):
        groups = right(model)
        groups[0]["lr"], groups[1]["lr"] = 1e-3, 1e-4
        return groups

    def head_missing(model):
        return right(model)[:1]

    assert lesson03.discriminative_groups.check(right)
    assert not lesson03.discriminative_groups.check(swapped)
    assert not lesson03.discriminative_groups.check(head_missing)


def test_batchnorm_fix():
    def keep_eval(module, _inputs):  # returns None: a pre-hook's return value replaces the input
        module.eval()

    def right(model):
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.register_forward_pre_hook(keep_eval)

    def with_surgery(model):
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                set_trainable(module, False)

    def eval_once(model):  # the trap: model.train() undoes it
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()

    def freeze_everything(model):  # keeps the statistics but nothing trains
        for p in model.parameters():
            p.requires_grad_(False)
        right(model)

    assert lesson03.batchnorm_fix.check(right)
    assert lesson03.batchnorm_fix.check(with_surgery)
    assert not lesson03.batchnorm_fix.check(eval_once)
    assert not lesson03.batchnorm_fix.check(freeze_everything)


def test_lr_suggestion(capsys):
    assert lesson03.lr_suggestion.check(lambda lrs, losses: lrs[losses.index(min(losses))] / 10)
    assert not lesson03.lr_suggestion.check(lambda lrs, losses: lrs[losses.index(min(losses))])
    assert not lesson03.lr_suggestion.check(lambda lrs, losses: lrs[0] / 0)  # raises: no crash
    assert "raised ZeroDivisionError" in capsys.readouterr().out
    assert not lesson03.lr_suggestion.check(None)
    torch.manual_seed(0)
