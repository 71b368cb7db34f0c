"""Multi-task learning: the model, the label convention, the losses and fit's per-task history."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils.data.auxiliary import WithRotation, coarse_labels, random_labels, rotate
from course_utils.data.loaders import DeviceLoader
from course_utils.data.splits import few_shot
from course_utils.evaluation import evaluate, predict
from course_utils.evaluation.multitask import TaskMeter, check_task_labels, task_losses
from course_utils.models.backbones import SmallCNN
from course_utils.models.features import headless
from course_utils.models.multitask import MultiTaskModel
from course_utils.models.surgery import param_groups, split_at_stage
from course_utils.runtime import seed_everything
from course_utils.training import fit
from course_utils.training.checkpoints import load_checkpoint, save_checkpoint
from course_utils.training.history import History
from course_utils.training.multitask import TaskWeightLog, UncertaintyWeighting, WeightedTaskLoss
from tests.conftest import medmnist_available


def small_mtl(tasks=None):
    return MultiTaskModel.from_classifier(SmallCNN(widths=(8, 16, 32)), tasks or {"fine": 10, "coarse": 4})


@pytest.fixture(scope="module")
def fashion_tasks(fashion_train, fashion_test):
    """600 real training images with (fine, coarse) labels, and 500 test images."""
    train = few_shot(fashion_train, k=60, seed=0)
    test = fashion_test.subset(slice(0, 500))
    return ((train.images, torch.stack([train.labels, coarse_labels(train.labels)], 1)),
            (test.images, torch.stack([test.labels, coarse_labels(test.labels)], 1)))


# ---------------------------------------------------------------- the model


def test_model_returns_one_output_per_head_from_shared_features():
    model = small_mtl({"fine": 10, "coarse": 4, "rotation": 4})
    assert isinstance(model.heads, nn.ModuleDict) and model.tasks == ["fine", "coarse", "rotation"]
    x = torch.rand(5, 1, 28, 28)
    outputs = model(x)
    assert {t: tuple(o.shape) for t, o in outputs.items()} == {"fine": (5, 10), "coarse": (5, 4), "rotation": (5, 4)}
    model.eval()
    features = model.backbone(x)
    assert torch.allclose(model(x)["coarse"], model.heads["coarse"](features))
    assert list(model(x, tasks=["rotation"])) == ["rotation"]
    head_ids = {id(p) for p in model.heads.parameters()}
    shared = model.shared_parameters()
    assert shared and not any(id(p) in head_ids for p in shared)
    assert len(shared) + len(head_ids) == len(list(model.parameters()))


def test_task_without_a_head_is_a_clear_error():
    model = small_mtl()
    with pytest.raises(ValueError, match=r"no head for task\(s\) \['depth'\]: this model has heads for \['fine', 'coarse'\]"):
        model(torch.rand(2, 1, 28, 28), tasks=["fine", "depth"])
    with pytest.raises(ValueError, match="at least one head"):
        MultiTaskModel(nn.Identity(), {})


def test_heads_get_the_head_learning_rate():
    model = small_mtl()
    groups = param_groups(model, backbone_lr=1e-4, head_lr=1e-3)
    head_ids = {id(p) for p in model.heads.parameters()}
    for group in groups:
        in_head = {id(p) in head_ids for p in group["params"]}
        assert in_head == {group["lr"] == 1e-3}


def test_split_at_stage_recomposes_the_backbone(lite0):
    x = torch.rand(2, 3, 40, 40)
    trunk, tail = split_at_stage(lite0, 8)
    with torch.no_grad(), headless(lite0):
        assert torch.allclose(tail(trunk(x)), lite0(x), atol=1e-5)
    assert trunk(x).shape == (2, 320, 2, 2)
    assert tail[0] is lite0.conv_head  # the same modules: training the tail trains the model
    with pytest.raises(ValueError, match="stage must be in 1..8"):
        split_at_stage(lite0, 9)


# ---------------------------------------------------------------- labels, per-task losses and metrics


def test_labels_whose_shape_does_not_match_the_outputs_are_clear_errors():
    outputs = {"fine": torch.zeros(4, 10), "coarse": torch.zeros(4, 4)}
    with pytest.raises(ValueError, match=r"labels of shape \(4,\) do not match the 2 task output\(s\) "
                                         r"\['fine', 'coarse'\]: expected shape \(4, 2\)"):
        task_losses(outputs, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels of shape \(4, 3\)"):
        check_task_labels(outputs, torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels of task 'coarse' \(column 1\) range over 0..7 but its head has 4"):
        check_task_labels(outputs, torch.tensor([[0, 0], [1, 7], [2, 1], [3, 2]]))
    with pytest.raises(ValueError, match="must be integers"):
        check_task_labels(outputs, torch.zeros(4, 2))


def test_task_losses_count_only_labelled_examples():
    torch.manual_seed(0)
    outputs = {"a": torch.randn(6, 3, requires_grad=True), "b": torch.randn(6, 2, requires_grad=True)}
    labels = torch.tensor([[0, -1], [2, -1], [-1, -1], [1, -1], [-1, -1], [2, -1]])
    losses = task_losses(outputs, labels)
    known = labels[:, 0] >= 0
    assert torch.allclose(losses["a"], F.cross_entropy(outputs["a"][known], labels[known, 0]))
    assert losses["b"].item() == 0.0  # no label for b in this batch: zero, not NaN
    sum(losses.values()).backward()
    assert torch.isfinite(outputs["b"].grad).all() and outputs["b"].grad.abs().sum() == 0


def test_task_meter_accuracy_per_task():
    meter = TaskMeter()
    outputs = {"a": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), "b": torch.tensor([[0.0, 1.0]] * 3)}
    meter.update(outputs, torch.tensor([[0, 1], [0, -1], [-1, 0]]))
    meter.update(outputs, torch.tensor([[0, -1], [1, -1], [0, -1]]))
    means = meter.means()
    assert means["acc_a"] == pytest.approx(4 / 5) and means["acc_b"] == pytest.approx(1 / 2)
    # b: logits (0, 1); label 1 costs log(1 + e^-1), label 0 costs log(1 + e): the mean of the two
    assert means["loss_b"] == pytest.approx((math.log(1 + math.exp(-1)) + math.log(1 + math.e)) / 2)


# ---------------------------------------------------------------- losses


def test_weighted_loss_is_the_weighted_sum_and_names_a_mismatch():
    outputs = {"fine": torch.zeros(2, 10), "rotation": torch.zeros(2, 4)}
    labels = torch.tensor([[3, -1], [-1, 2]])
    loss = WeightedTaskLoss({"fine": 2.0, "rotation": 0.5})
    assert loss(outputs, labels).item() == pytest.approx(2 * math.log(10) + 0.5 * math.log(4), rel=1e-6)
    with pytest.raises(ValueError, match=r"weighs tasks \['fine'\] but the model outputs \['fine', 'rotation'\]"):
        WeightedTaskLoss({"fine": 1.0})(outputs, labels)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedTaskLoss({"fine": -1.0})


def test_uncertainty_weighting_loss_and_gradient_by_hand():
    weighting = UncertaintyWeighting(["a", "b"], init=[0.0, math.log(2.0)])
    losses = {"a": torch.tensor(1.0, requires_grad=True), "b": torch.tensor(3.0, requires_grad=True)}
    total = weighting.combine(losses)
    # exp(-s) L + s / 2:  1 * 1 + 0  +  (1/2) * 3 + ln(2) / 2
    assert total.item() == pytest.approx(1 + 1.5 + math.log(2) / 2, rel=1e-6)
    total.backward()
    # d/ds = -exp(-s) L + 1/2: -1 + 0.5 and -1.5 + 0.5;  d/dL = exp(-s): 1 and 0.5
    assert weighting.log_vars.grad.tolist() == pytest.approx([-0.5, -1.0], rel=1e-6)
    assert losses["a"].grad.item() == pytest.approx(1.0) and losses["b"].grad.item() == pytest.approx(0.5)
    assert weighting.task_weights() == pytest.approx({"a": 1.0, "b": 0.5})


def test_uncertainty_weighting_settles_at_one_over_twice_the_loss():
    weighting = UncertaintyWeighting(["easy", "hard"])
    optimizer = torch.optim.SGD(weighting.parameters(), lr=0.1)
    losses = {"easy": torch.tensor(0.25), "hard": torch.tensor(2.0)}
    for _ in range(2000):
        optimizer.zero_grad()
        weighting.combine(losses).backward()
        optimizer.step()
    assert weighting.task_weights() == pytest.approx({"easy": 2.0, "hard": 0.25}, rel=1e-3)
    with pytest.raises(ValueError, match="one value per task"):
        UncertaintyWeighting(["a", "b"], init=[0.0])


# ---------------------------------------------------------------- with fit, on real data


def test_fit_records_per_task_history_on_fashion_mnist(fashion_tasks):
    (x, y), (xt, yt) = fashion_tasks
    seed_everything(0)
    model = small_mtl()
    history = fit(model, DeviceLoader(x, y, batch_size=50, shuffle=True), DeviceLoader(xt, yt, batch_size=250),
                  epochs=5, lr=3e-3, progress=False, loss_fn=WeightedTaskLoss({"fine": 1.0, "coarse": 0.5}))
    for split in ("train", "val"):
        for metric in ("loss", "acc"):
            for task in ("fine", "coarse"):
                assert len(history.metric(f"{split}_{metric}_{task}")) == 5
    assert history.train_acc == history.extra["train_acc_fine"]  # the main (first) task's accuracy
    assert history.val_acc == history.extra["val_acc_fine"]
    assert history.extra["val_acc_coarse"][-1] > 0.85  # measured 0.97; chance 0.25 (4 groups)
    assert history.extra["val_acc_fine"][-1] > 0.55    # measured 0.72; chance 0.10
    assert history.extra["train_loss_fine"][-1] < history.extra["train_loss_fine"][0]
    result = evaluate(model, DeviceLoader(xt, yt, batch_size=250))
    assert result["acc"] == result["acc_fine"] == pytest.approx(max(history.val_acc), abs=1e-6)
    logits = predict(model, DeviceLoader(xt, yt, batch_size=250))
    assert logits["coarse"].shape == (500, 4)
    assert (logits["fine"].argmax(1) == yt[:, 0]).float().mean().item() == pytest.approx(result["acc_fine"])


def test_fit_rejects_labels_that_do_not_fit_the_heads(fashion_tasks):
    (x, y), _ = fashion_tasks
    with pytest.raises(ValueError, match=r"labels of shape \(600,\) do not match the 2 task output"):
        fit(small_mtl(), DeviceLoader(x, y[:, 0], batch_size=50), epochs=1, progress=False)
    three = small_mtl({"fine": 10, "coarse": 4, "rotation": 4})
    with pytest.raises(ValueError, match=r"labels of shape \(600, 2\) do not match the 3 task output"):
        fit(three, DeviceLoader(x, y, batch_size=50), epochs=1, progress=False)


def test_uncertainty_weights_are_learned_and_logged(fashion_tasks):
    (x, y), _ = fashion_tasks
    seed_everything(0)
    model = small_mtl()
    model.weighting = UncertaintyWeighting(model.tasks)
    log = TaskWeightLog(every=4)
    history = fit(model, DeviceLoader(x, y, batch_size=50, shuffle=True), epochs=5, lr=3e-3,
                  loss_fn=model.weighting, callbacks=[log], progress=False)
    weights = {t: history.extra[f"weight_{t}"] for t in model.tasks}
    assert all(len(w) == 5 for w in weights.values())
    assert log.steps[0] == (0, {"fine": 1.0, "coarse": 1.0}) and len(log.steps) == 1 + 60 // 4
    # d/ds (exp(-s) L + s/2) = -exp(-s) L + 1/2: a weight grows while its loss is below 1/2.
    # The coarse task's loss fell below it (measured 0.07), the fine task's did not (0.75).
    assert history.extra["train_loss_coarse"][-1] < 0.5 < history.extra["train_loss_fine"][-1]
    assert weights["coarse"][-1] > 1.0 > weights["fine"][-1]   # measured 1.06 and 0.89
    assert weights["coarse"][-1] > weights["fine"][-1] + 0.1
    with pytest.raises(ValueError, match="TaskWeightLog needs an UncertaintyWeighting"):
        fit(small_mtl(), DeviceLoader(x, y, batch_size=50), epochs=1, callbacks=[TaskWeightLog()], progress=False)


@pytest.mark.skipif(not medmnist_available(), reason="MedMNIST mirror not set (MEDMNIST_DIR)")
def test_two_medical_data_sets_share_a_backbone():
    from course_utils.data.datasets import load_medmnist

    parts, columns = [], []
    for column, flag in enumerate(("breastmnist", "pneumoniamnist")):
        data = load_medmnist(flag, "train").subset(slice(0, 300))
        labels = torch.full((len(data), 2), -1, dtype=torch.long)
        labels[:, column] = data.labels
        parts.append(data.images)
        columns.append(labels)
    x, y = torch.cat(parts), torch.cat(columns)
    seed_everything(0)
    model = small_mtl({"breast": 2, "pneumonia": 2})
    history = fit(model, DeviceLoader(x, y, batch_size=50, shuffle=True), epochs=2, lr=3e-3, progress=False)
    assert history.extra["train_acc_pneumonia"][-1] > 0.7  # measured 0.86
    assert not math.isnan(history.extra["train_loss_breast"][-1])


# ---------------------------------------------------------------- history, auxiliary labels


def test_history_extra_metrics_pad_and_survive_a_checkpoint(tmp_path):
    history = History()
    history.record(epoch=1, train_loss=1.0)
    history.record(epoch=2, train_loss=0.5, val_acc_fine=0.7)
    history.add("weight_fine", 1.2)
    assert history.metric("val_acc_fine")[0] != history.metric("val_acc_fine")[0]  # NaN before it existed
    assert history.metric("val_acc_fine")[1] == 0.7 and history.metric("weight_fine")[1] == 1.2
    path = tmp_path / "run.pt"
    save_checkpoint(path, nn.Linear(2, 2), history=history.as_dict())
    restored = History.from_dict(load_checkpoint(path, nn.Linear(2, 2))["history"])
    assert restored.extra["weight_fine"][1] == 1.2 and len(restored.extra["weight_fine"]) == 2
    with pytest.raises(ValueError, match="no epoch recorded yet"):
        History().add("weight_fine", 1.0)


def test_coarse_random_and_rotation_labels(fashion_train):
    assert coarse_labels(torch.arange(10)).tolist() == [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]
    with pytest.raises(ValueError, match="0..9"):
        coarse_labels(torch.tensor([10]))
    assert torch.equal(random_labels(50, 10, seed=3), random_labels(50, 10, seed=3))
    images = fashion_train.images[:8].float()
    turns = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    rotated = rotate(images, turns)
    back = rotate(rotated, (4 - turns) % 4)
    assert torch.equal(back, images) and torch.equal(rotated[2], images[2].flip(-1).flip(-2))
    with pytest.raises(ValueError, match="square"):
        rotate(torch.zeros(1, 1, 4, 6), torch.tensor([1]))


def test_with_rotation_adds_a_rotated_copy_per_image(fashion_tasks):
    (x, y), _ = fashion_tasks
    loader = WithRotation(DeviceLoader(x[:40], y[:40], batch_size=20), seed=0)
    assert len(loader) == 2
    images, labels = next(iter(loader))
    assert images.shape == (40, 1, 28, 28) and labels.shape == (40, 3)
    assert torch.equal(labels[:20, :2], y[:20]) and (labels[:20, 2] == -1).all()
    assert (labels[20:, :2] == -1).all() and set(labels[20:, 2].tolist()) <= {0, 1, 2, 3}
    assert torch.equal(images[20:], rotate(images[:20], labels[20:, 2]))
    unlabelled = DeviceLoader(x[100:130], y[100:130, 0], batch_size=15)
    images, labels = next(iter(WithRotation(DeviceLoader(x[:20], y[:20], batch_size=20), unlabelled)))
    assert images.shape == (35, 1, 28, 28) and (labels[20:, :2] == -1).all()
    with pytest.raises(ValueError, match=r"needs \(B, T\) task labels"):
        next(iter(WithRotation(DeviceLoader(x[:20], y[:20, 0], batch_size=20))))
