"""course_utils.explanations.probes on real Fashion-MNIST pixels: probes beat chance, maps have the right shape."""

import numpy as np
import pytest
import torch

from course_utils.data.splits import few_shot, few_shot_indices
from course_utils.explanations.probes import (
    embed_2d,
    knn_accuracy,
    linear_probe_accuracy,
    probe_stages,
    probe_stages_selected,
)


@pytest.fixture(scope="module")
def pixels(fashion_train, fashion_test):
    train = few_shot(fashion_train, 20, seed=0)
    test = fashion_test.subset(few_shot_indices(fashion_test.labels, 30, seed=1))
    return (train.images.flatten(1).float(), train.labels, test.images.flatten(1).float(), test.labels)


def test_probes_on_fashion_mnist_pixels(pixels):
    # 20 labels per class on raw pixels: about 0.74 (linear) and 0.66 (5-NN) measured; chance is 0.1
    linear = linear_probe_accuracy(*pixels)
    knn = knn_accuracy(*pixels)
    assert 0.6 < linear < 0.9
    assert 0.5 < knn < 0.85


def test_probes_fail_on_shuffled_labels(pixels):
    train_x, train_y, test_x, test_y = pixels
    shuffled = train_y[torch.randperm(len(train_y), generator=torch.Generator().manual_seed(0))]
    assert linear_probe_accuracy(train_x, shuffled, test_x, test_y) < 0.25
    assert knn_accuracy(train_x, shuffled, test_x, test_y) < 0.25


def test_probe_stages_gives_one_accuracy_per_stage(pixels):
    train_x, train_y, test_x, test_y = pixels
    noise = torch.randn(len(train_x), 8), torch.randn(len(test_x), 8)
    result = probe_stages([noise[0], train_x], train_y, [noise[1], test_x], test_y)
    assert set(result) == {"linear", "knn"}
    assert len(result["linear"]) == len(result["knn"]) == 2
    assert result["linear"][0] < 0.25 < 0.6 < result["linear"][1]
    with pytest.raises(ValueError):
        probe_stages([train_x], train_y, [test_x, test_x], test_y)


def test_embed_2d_separates_two_clusters():
    generator = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(40, 20, generator=generator), torch.randn(40, 20, generator=generator) + 4])
    for method in ("pca", "tsne"):
        e = embed_2d(x, method)
        assert e.shape == (80, 2) and np.isfinite(e).all()
        # the two clusters land apart: every point is nearer its own cluster's centre
        a, b = e[:40].mean(0), e[40:].mean(0)
        near_a = np.linalg.norm(e - a, axis=1) < np.linalg.norm(e - b, axis=1)
        assert near_a[:40].all() and not near_a[40:].any()
    with pytest.raises(ValueError):
        embed_2d(x, "umap")


def test_probe_is_chosen_on_validation_and_folds_into_a_linear_head(fashion_train, pixels):
    from course_utils.explanations.probes import probe_as_linear, select_linear_probe

    train_x, train_y, test_x, test_y = pixels
    val = fashion_train.subset(few_shot_indices(fashion_train.labels, 10, seed=7))
    val_x, val_y = val.images.flatten(1).float(), val.labels
    probe, C, scores = select_linear_probe(train_x, train_y, val_x, val_y, Cs=(0.001, 0.1, 10.0))
    assert C == max(scores, key=scores.get) and set(scores) == {0.001, 0.1, 10.0}
    head = probe_as_linear(probe)
    probs = torch.softmax(head(test_x), dim=1)
    assert torch.allclose(probs, torch.tensor(probe.predict_proba(test_x.numpy()), dtype=torch.float32), atol=1e-4)
    binary = (train_y == 0).long()  # T-shirt against the rest: the two-logit form of a binary probe
    probe2, _, _ = select_linear_probe(train_x, binary, val_x, (val_y == 0).long(), score="auc")
    head2 = probe_as_linear(probe2)
    assert head2.out_features == 2
    assert torch.allclose(torch.softmax(head2(test_x), 1)[:, 1],
                          torch.tensor(probe2.predict_proba(test_x.numpy())[:, 1], dtype=torch.float32), atol=1e-4)
    with pytest.raises(ValueError, match="score must be"):
        select_linear_probe(train_x, train_y, val_x, val_y, score="f1")


def test_probe_stages_selected_chooses_C_on_validation(fashion_train, pixels):
    train_x, train_y, test_x, test_y = pixels
    val = fashion_train.subset(few_shot_indices(fashion_train.labels, 10, seed=7))
    val_x = val.images.flatten(1).float()
    noise = [torch.randn(len(x), 8, generator=torch.Generator().manual_seed(0)) for x in (train_x, val_x, test_x)]
    result = probe_stages_selected([noise[0], train_x], train_y, [noise[1], val_x], val.labels,
                                   [noise[2], test_x], test_y, Cs=(0.001, 0.1))
    assert set(result) == {"linear", "C", "knn"} and all(len(v) == 2 for v in result.values())
    assert result["linear"][0] < 0.25 < 0.6 < result["linear"][1]  # noise stays at chance, pixels do not
    assert set(result["C"]) <= {0.001, 0.1}
    with pytest.raises(ValueError, match="must match"):
        probe_stages_selected([train_x], train_y, [val_x, val_x], val.labels, [test_x], test_y)
