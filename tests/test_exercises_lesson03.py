import torch
import torch.nn as nn

from course_utils.exercises import lesson03
from course_utils.models.backbones import SmallCNN, efficientnet_lite0
from course_utils.models.surgery import (
    count_parameters,
    freeze,
    param_groups,
    replace_head,
    set_trainable,
)
from course_utils.training.finetune import freeze_batchnorm
from course_utils.training.lr_finder import LRRangeResult


def test_trainable_params(capsys):
    model = replace_head(efficientnet_lite0(pretrained=False), 10)
    right = count_parameters(freeze(model, train_last=2))
    assert lesson03.trainable_params.check(right)
    assert not lesson03.trainable_params.check(1280 * 10 + 10)  # the head alone
    out = capsys.readouterr().out
    assert "not yet" in out and "Stuck?" in out and "train_last=2" not in out  # a nudge first
    assert not lesson03.trainable_params.check(1280 * 10 + 10, show_solution=True)
    assert "train_last=2" in capsys.readouterr().out                          # then the solution


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

    def library(model):  # the course's own function does the job: not allowed here
        return param_groups(model, backbone_lr=1e-4, head_lr=1e-3)

    def one_rate(model):  # ignores the head/backbone split
        return [{"params": list(model.parameters()), "lr": 1e-3}]

    assert lesson03.discriminative_groups.check(right)
    assert not lesson03.discriminative_groups.check(swapped)
    assert not lesson03.discriminative_groups.check(head_missing)
    assert not lesson03.discriminative_groups.check(library)
    assert not lesson03.discriminative_groups.check(one_rate)
    assert param_groups(SmallCNN(), 1e-4, 1e-3)  # the course's function works again afterwards


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

    def zero_momentum(model):  # statistics never move, but training mode normalises per batch
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = 0.0

    def stop_tracking(model):  # the same, by switching tracking off
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.track_running_stats = False

    def course_function(model):  # the course's own freeze_batchnorm: the exercise asks for it by hand
        freeze_batchnorm(model)

    def patch_train(model):  # make train() do nothing: BatchNorm stays in eval, and so does the model
        model.train = lambda mode=True: model

    def patch_class(model):  # the same, for every module in the notebook
        nn.Module.train = lambda self, mode=True: self

    def patch_batchnorm_class(model):  # only BatchNorm's class: train() leaves BatchNorm in eval
        nn.BatchNorm2d.train = lambda self, mode=True: self

    def patch_then_raise(model):
        nn.Module.train = lambda self, mode=True: self
        raise RuntimeError("oops")

    assert lesson03.batchnorm_fix.check(right)
    assert not lesson03.batchnorm_fix.check(with_surgery)
    assert not lesson03.batchnorm_fix.check(course_function)
    assert not lesson03.batchnorm_fix.check(patch_train)
    assert not lesson03.batchnorm_fix.check(patch_class)
    assert not lesson03.batchnorm_fix.check(patch_batchnorm_class)
    assert "train" not in nn.BatchNorm2d.__dict__ and nn.BatchNorm2d.train is nn.Module.train
    assert not lesson03.batchnorm_fix.check(patch_then_raise)
    assert SmallCNN().train().training  # PyTorch's train() is back after the patched answer
    assert not lesson03.batchnorm_fix.check(eval_once)
    assert not lesson03.batchnorm_fix.check(freeze_everything)
    assert not lesson03.batchnorm_fix.check(zero_momentum)
    assert not lesson03.batchnorm_fix.check(stop_tracking)


def test_lr_suggestion(capsys):
    assert lesson03.lr_suggestion.check(lambda lrs, losses: lrs[losses.index(min(losses))] / 10)
    assert not lesson03.lr_suggestion.check(lambda lrs, losses: lrs[losses.index(min(losses))])
    assert not lesson03.lr_suggestion.check(lambda lrs, losses: LRRangeResult(lrs, losses).suggestion())
    assert not lesson03.lr_suggestion.check(lambda lrs, losses: lrs[len(lrs) // 2] / 10)  # ignores losses
    assert not lesson03.lr_suggestion.check(lambda lrs, losses: 1e-3)  # the first curve's answer, as a constant
    assert "write suggestion yourself" in capsys.readouterr().out
    assert LRRangeResult([1e-3, 1e-2], [2.0, 1.0]).suggestion() == 1e-3  # unblocked afterwards
    assert not lesson03.lr_suggestion.check(lambda lrs, losses: lrs[0] / 0)  # raises: no crash
    assert "raised ZeroDivisionError" in capsys.readouterr().out
    assert not lesson03.lr_suggestion.check(None)
    torch.manual_seed(0)
