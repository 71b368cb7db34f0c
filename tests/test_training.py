import math

import pytest
import torch
import torch.nn as nn

from course_utils.data.loaders import DeviceLoader
from course_utils.data.splits import few_shot
from course_utils.evaluation import evaluate, predict
from course_utils.models.backbones import SmallCNN
from course_utils.runtime import seed_everything
from course_utils.training import Callback, FitConfig, TrainingDivergedError, fit
from course_utils.training.checkpoints import load_checkpoint


@pytest.fixture(scope="module")
def small_task(fashion_train, fashion_test):
    """600 real training images (60 per class) and 600 test images."""
    train = few_shot(fashion_train, k=60, seed=0)
    test = fashion_test.subset(slice(0, 600))
    return train, test


def loaders(small_task, batch_size=50):
    train, test = small_task
    return (DeviceLoader.from_data(train, batch_size=batch_size, shuffle=True, seed=0),
            DeviceLoader.from_data(test, batch_size=300))


def small_net():
    return SmallCNN(widths=(8, 16, 32))


def test_fit_learns_real_data(small_task):
    seed_everything(0)
    model = small_net()
    train, val = loaders(small_task)
    history = fit(model, train, val, epochs=4, lr=3e-3, progress=False)
    assert history.stopped == "completed" and len(history) == 4
    assert history.val_acc[-1] > 0.55  # measured 0.70 on this CPU; chance is 0.10
    assert history.train_loss[-1] < history.train_loss[0]
    assert evaluate(model, val)["acc"] == pytest.approx(max(history.val_acc), abs=1e-6)
    assert predict(model, val).shape == (600, 10)


def test_same_seed_same_history(small_task):
    runs = []
    for _ in range(2):
        seed_everything(1)
        train, val = loaders(small_task)
        runs.append(fit(small_net(), train, val, epochs=2, lr=3e-3, progress=False))
    assert runs[0].train_loss == pytest.approx(runs[1].train_loss, rel=1e-5)
    assert runs[0].val_acc == pytest.approx(runs[1].val_acc, abs=1e-6)


class Sabotage(Callback):
    """After epoch ``when`` scramble the weights, so validation accuracy collapses."""

    def __init__(self, when):
        self.when = when

    def after_epoch(self, trainer):
        if trainer.epoch == self.when:
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.normal_()


def test_early_stopping_triggers_and_restores_best(small_task):
    seed_everything(0)
    model = small_net()
    train, val = loaders(small_task)
    history = fit(model, train, val, epochs=8, lr=3e-3, patience=2, progress=False,
                  callbacks=[Sabotage(when=2)], optimizer="sgd", momentum=0.0)
    assert history.stopped == "early_stopping" and len(history) < 10
    assert history.best_epoch <= 2
    assert evaluate(model, val)["acc"] == pytest.approx(history.best_score, abs=1e-6)


class InterruptAt(Callback):
    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def after_batch(self, trainer):
        if (trainer.epoch, trainer.batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_best_weights_and_history(small_task, tmp_path):
    seed_everything(0)
    model = small_net()
    train, val = loaders(small_task)
    path = tmp_path / "best.pt"
    history = fit(model, train, val, epochs=4, lr=3e-3, progress=False,
                  callbacks=[InterruptAt(3, 5)], checkpoint_path=str(path))
    assert history.stopped == "interrupted" and len(history) == 2
    assert evaluate(model, val)["acc"] == pytest.approx(history.best_score, abs=1e-6)
    saved = load_checkpoint(path, small_net())
    assert saved["config"]["lr"] == 3e-3 and saved["history"]["best_epoch"] == history.best_epoch


def test_nan_loss_stops_with_message_and_last_good_weights(small_task):
    seed_everything(0)
    model = small_net()
    train, val = loaders(small_task)
    calls = {"n": 0}

    def loss_after_a_while(out, y):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("nan") if calls["n"] > 15 else loss  # epoch 2 goes bad

    with pytest.raises(TrainingDivergedError, match=r"loss became nan in epoch 2") as info:
        fit(model, train, val, epochs=4, lr=3e-3, progress=False, loss_fn=loss_after_a_while)
    assert len(info.value.history) == 1 and info.value.history.stopped == "diverged"
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert evaluate(model, val)["acc"] == pytest.approx(info.value.history.val_acc[0], abs=1e-6)


def test_shape_and_label_mismatches_fail_before_training(small_task):
    train, _ = small_task
    rgb = DeviceLoader(train.images.expand(-1, 3, -1, -1), train.labels, batch_size=50)
    with pytest.raises(ValueError, match=r"input batch of shape \(2, 3, 28, 28\) does not fit SmallCNN"):
        fit(small_net(), rgb, epochs=1, progress=False)
    five_way = SmallCNN(num_classes=5)
    with pytest.raises(ValueError, match="labels range over 0..9 but the head of SmallCNN has 5 outputs"):
        fit(five_way, DeviceLoader.from_data(train, batch_size=50), epochs=1, progress=False)


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine", "step"])
def test_schedulers_change_the_learning_rate(small_task, scheduler):
    train, val = small_task
    small = few_shot(train, k=10)
    loader = DeviceLoader.from_data(small, batch_size=50)
    config = FitConfig(epochs=3, lr=1e-2, scheduler=scheduler, step_size=1, optimizer="sgd",
                       nesterov=True, progress=False)
    history = fit(small_net(), loader, config=config)
    assert len(set(history.lr)) == 3 and all(math.isfinite(v) for v in history.train_loss)
    with pytest.raises(ValueError, match="scheduler must be"):
        fit(small_net(), loader, epochs=1, scheduler="linear", progress=False)


def test_everything_frozen_is_reported(small_task):
    model = small_net().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(model, DeviceLoader.from_data(small_task[0], batch_size=50), epochs=1, progress=False)


def test_channels_last_trains_the_same_and_leaves_the_usual_layout(small_task):
    histories, models = {}, {}
    for nhwc in (True, False):
        seed_everything(0)
        models[nhwc] = small_net()
        train, val = loaders(small_task)
        histories[nhwc] = fit(models[nhwc], train, val, epochs=2, lr=3e-3, progress=False,
                              channels_last=nhwc)
    assert histories[True].train_loss == pytest.approx(histories[False].train_loss, rel=0.01)  # float order only
    weight = models[True].stages[0][0].weight
    assert weight.is_contiguous()  # NCHW again after fit
    assert weight.view(weight.shape[0], -1).shape == (8, 9)  # so .view() on weights keeps working


def test_course_threads_overrides_the_core_count(monkeypatch):
    from course_utils.runtime import configure_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("COURSE_THREADS", "1")
        assert configure_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("COURSE_THREADS", "two")
        with pytest.raises(ValueError, match="COURSE_THREADS must be a positive whole number, got 'two'"):
            configure_threads()
    finally:
        torch.set_num_threads(before)
