import pytest
import torch

from course_utils.data.splits import few_shot, few_shot_indices, stratified_split, train_val_split


def test_few_shot_is_stratified_and_seeded(fashion_train):
    subset = few_shot(fashion_train, k=7, seed=3)
    assert len(subset) == 70 and torch.bincount(subset.labels).tolist() == [7] * 10
    again = few_shot_indices(fashion_train.labels, k=7, seed=3)
    other = few_shot_indices(fashion_train.labels, k=7, seed=4)
    assert torch.equal(again, few_shot_indices(fashion_train.labels, k=7, seed=3))
    assert not torch.equal(again, other)
    assert torch.equal(subset.images, fashion_train.images[again])


def test_few_shot_rejects_impossible_k():
    labels = torch.tensor([0, 0, 1])
    with pytest.raises(ValueError, match="class 1 has only 1 examples, fewer than k=2"):
        few_shot_indices(labels, k=2)
    with pytest.raises(ValueError, match="at least 1"):
        few_shot_indices(labels, k=0)


def test_stratified_split_keeps_proportions_and_is_disjoint(fashion_test):
    train_idx, val_idx = stratified_split(fashion_test.labels, val_fraction=0.25, seed=0)
    assert len(set(train_idx.tolist()) & set(val_idx.tolist())) == 0
    assert len(train_idx) + len(val_idx) == 10000
    assert torch.bincount(fashion_test.labels[val_idx]).tolist() == [250] * 10
    train, val = train_val_split(fashion_test, 0.25, seed=0)
    assert len(train) == 7500 and len(val) == 2500


def test_split_of_tiny_classes_keeps_a_training_example():
    train_idx, val_idx = stratified_split(torch.tensor([0, 0, 1, 1, 1]), val_fraction=0.9)
    assert sorted(torch.cat([train_idx, val_idx]).tolist()) == [0, 1, 2, 3, 4]
    assert set(torch.tensor([0, 0, 1, 1, 1])[train_idx].tolist()) == {0, 1}


def test_stratified_subset_keeps_the_class_mix(fashion_train):
    from course_utils.data.splits import stratified_subset

    imbalanced = fashion_train.subset(torch.cat([torch.nonzero(fashion_train.labels == 0).view(-1)[:900],
                                                 torch.nonzero(fashion_train.labels == 1).view(-1)[:100]]))
    part = stratified_subset(imbalanced, 50, seed=3)
    assert torch.bincount(part.labels).tolist() == [45, 5]
    assert not torch.equal(part.images, stratified_subset(imbalanced, 50, seed=4).images)
    assert len(stratified_subset(imbalanced, 1000)) == 1000
    with pytest.raises(ValueError, match="n must be in 1..1000"):
        stratified_subset(imbalanced, 0)


def test_disjoint_few_shot_sets_share_nothing(fashion_train):
    from course_utils.data.splits import disjoint_few_shot

    val, *draws = disjoint_few_shot(fashion_train.labels, [5] + [7] * 3, seed=1)
    assert torch.bincount(fashion_train.labels[val]).tolist() == [5] * 10
    assert all(torch.bincount(fashion_train.labels[d]).tolist() == [7] * 10 for d in draws)
    everything = torch.cat([val, *draws])
    assert len(set(everything.tolist())) == len(everything) == 50 + 3 * 70
    again = disjoint_few_shot(fashion_train.labels, [5] + [7] * 3, seed=1)
    assert torch.equal(again[1], draws[0])
    with pytest.raises(ValueError, match="fewer than the 12"):
        disjoint_few_shot(torch.tensor([0] * 10 + [1] * 20), [6, 6])
    with pytest.raises(ValueError, match="at least 1"):
        disjoint_few_shot(fashion_train.labels, [3, 0])
