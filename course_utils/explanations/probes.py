"""Probes and 2-D maps: how much a frozen representation knows about a task.

A *linear probe* is a logistic regression trained on frozen features; a *k-NN probe*
labels a test point by the majority of its ``k`` nearest training points. Both read the
features as they are: if they score well, the information is there and easy to reach.
Features are standardised first (each dimension to mean 0, variance 1 on the training
set), so stages with very different scales are compared fairly. :func:`embed_2d` draws the
features as a 2-D map (PCA or t-SNE) to look at.

These problems are small, so scikit-learn runs them on one thread: its BLAS/OpenMP
threads would otherwise fight with PyTorch's for the same cores and run many times slower.

>>> import torch
>>> x = torch.tensor([[0.0], [0.1], [1.0], [1.1]]); y = torch.tensor([0, 0, 1, 1])
>>> linear_probe_accuracy(x, y, x, y), knn_accuracy(x, y, x, y, k=1)
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits


def _numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def linear_probe_accuracy(train_x, train_y, test_x, test_y, C: float = 0.1,
                          max_iter: int = 300) -> float:
    """Test accuracy of a logistic regression trained on standardised ``train_x``.

    ``C`` is the inverse L2 strength: with few labels per class a fairly strong
    penalty (``C=0.1``) generalises better and converges faster.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    with threadpool_limits(1):
        probe.fit(_numpy(train_x), _numpy(train_y))
        return float(probe.score(_numpy(test_x), _numpy(test_y)))


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = 5) -> float:
    """Test accuracy of a ``k``-nearest-neighbour vote (Euclidean, standardised features)."""
    probe = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=k))
    with threadpool_limits(1):
        probe.fit(_numpy(train_x), _numpy(train_y))
        return float(probe.score(_numpy(test_x), _numpy(test_y)))


def probe_stages(train_features: Sequence[torch.Tensor], train_y: torch.Tensor,
                 test_features: Sequence[torch.Tensor], test_y: torch.Tensor,
                 k: int = 5, C: float = 0.1) -> dict[str, list[float]]:
    """Linear-probe and k-NN accuracy for each stage's features (lists, one entry per stage).

    >>> x = [torch.randn(20, 4), torch.arange(20.0).view(20, 1)]; y = (torch.arange(20) >= 10).long()
    >>> probe_stages(x, y, x, y, k=1)["knn"]
    [1.0, 1.0]
    """
    if len(train_features) != len(test_features):
        raise ValueError(f"{len(train_features)} training stages but {len(test_features)} test stages")
    return {
        "linear": [linear_probe_accuracy(a, train_y, b, test_y, C=C)
                   for a, b in zip(train_features, test_features)],
        "knn": [knn_accuracy(a, train_y, b, test_y, k=k) for a, b in zip(train_features, test_features)],
    }


def probe_stages_selected(train_features: Sequence[torch.Tensor], train_y: torch.Tensor,
                          val_features: Sequence[torch.Tensor], val_y: torch.Tensor,
                          test_features: Sequence[torch.Tensor], test_y: torch.Tensor,
                          Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0), k: int = 5) -> dict[str, list[float]]:
    """Like :func:`probe_stages`, but each stage's regulariser ``C`` is chosen on validation data.

    Stages differ in dimension (tens to thousands of channels), so one fixed ``C`` suits some
    stages better than others. Here every stage gets the ``C`` in ``Cs`` with the best validation
    accuracy, and only that probe meets the test set. Returns lists, one entry per stage:
    ``"linear"`` (test accuracy), ``"C"`` (the chosen value) and ``"knn"`` (test accuracy).

    >>> x = [torch.randn(20, 4), torch.arange(20.0).view(20, 1)]; y = (torch.arange(20) >= 10).long()
    >>> result = probe_stages_selected(x, y, x, y, x, y, Cs=(0.1, 1.0), k=1)
    >>> result["linear"][1], result["C"][1] in (0.1, 1.0)
    (1.0, True)
    """
    if not len(train_features) == len(val_features) == len(test_features):
        raise ValueError(f"{len(train_features)} training, {len(val_features)} validation and "
                         f"{len(test_features)} test stages: they must match")
    result: dict[str, list[float]] = {"linear": [], "C": [], "knn": []}
    for train_x, val_x, test_x in zip(train_features, val_features, test_features):
        probe, C, _ = select_linear_probe(train_x, train_y, val_x, val_y, Cs=Cs)
        with threadpool_limits(1):
            result["linear"].append(float(probe.score(_numpy(test_x), _numpy(test_y))))
        result["C"].append(C)
        result["knn"].append(knn_accuracy(train_x, train_y, test_x, test_y, k=k))
    return result


def select_linear_probe(train_x, train_y, val_x, val_y, Cs=(0.01, 0.1, 1.0),
                        score: str = "accuracy", max_iter: int = 1000):
    """Fit a standardised logistic regression for each ``C`` in ``Cs``; keep the best on validation.

    ``score`` is ``"accuracy"`` or ``"auc"`` (binary: the positive class's probability;
    multi-class: one-versus-rest mean). Returns ``(probe, C, scores)``, ``scores`` mapping each
    ``C`` to its validation score. The test set plays no part in the choice.

    >>> x = torch.tensor([[0.0], [0.2], [1.0], [1.2]]); y = torch.tensor([0, 0, 1, 1])
    >>> probe, C, scores = select_linear_probe(x, y, x, y, Cs=(0.1, 1.0))
    >>> probe.predict(_numpy(x)).tolist(), sorted(scores)
    ([0, 0, 1, 1], [0.1, 1.0])
    """
    from ..evaluation.clinical import roc_auc

    if score not in ("accuracy", "auc"):
        raise ValueError(f"score must be 'accuracy' or 'auc', got {score!r}")
    best, scores = None, {}
    with threadpool_limits(1):
        for C in Cs:
            probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
            probe.fit(_numpy(train_x), _numpy(train_y))
            if score == "auc":
                scores[C] = roc_auc(_numpy(val_y), probe.predict_proba(_numpy(val_x)))
            else:
                scores[C] = float(probe.score(_numpy(val_x), _numpy(val_y)))
            if best is None or scores[C] > scores[best[1]]:
                best = (probe, C)
    return best[0], best[1], scores


def probe_as_linear(probe) -> torch.nn.Linear:
    """The fitted scaler + logistic regression folded into one ``nn.Linear`` on raw features.

    Its logits give the probe's probabilities through softmax (binary: two logits
    ``[0, z]``), so the probe can sit on the frozen backbone as an ordinary head, for
    Grad-CAM or for deployment.

    >>> x = torch.randn(40, 3); y = (x[:, 0] > 0).long()
    >>> probe, _, _ = select_linear_probe(x, y, x, y)
    >>> head = probe_as_linear(probe)
    >>> bool(torch.allclose(head(x).softmax(1), torch.tensor(probe.predict_proba(x.numpy())).float(), atol=1e-5))
    True
    """
    scaler, regression = probe[0], probe[-1]
    weight = regression.coef_ / scaler.scale_                     # (K or 1, D)
    bias = regression.intercept_ - weight @ scaler.mean_
    if weight.shape[0] == 1:  # binary: class 0 gets the zero logit
        weight, bias = np.vstack([np.zeros_like(weight), weight]), np.r_[0.0, bias]
    head = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return head


def embed_2d(features, method: str = "pca", seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """A 2-D map ``(N, 2)`` of standardised ``features`` ``(N, D)``: ``"pca"`` or ``"tsne"``.

    PCA keeps the two directions of largest variance (a linear projection); t-SNE keeps
    each point's nearest neighbours close (non-linear; distances between far clusters
    mean little). t-SNE first reduces to at most 50 PCA dimensions, the usual speed-up.

    >>> embed_2d(torch.randn(30, 5)).shape
    (30, 2)
    """
    from sklearn.manifold import TSNE

    x = StandardScaler().fit_transform(_numpy(features).astype(np.float64))
    with threadpool_limits(1):
        if method == "pca":
            return PCA(n_components=2, random_state=seed).fit_transform(x)
        if method == "tsne":
            reduced = PCA(n_components=min(50, *x.shape), random_state=seed).fit_transform(x)
            perplexity = min(perplexity, (len(x) - 1) / 3)
            return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
