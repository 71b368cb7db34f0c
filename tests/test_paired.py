"""The paired helpers against a direct computation and against scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from course_utils.evaluation.clinical import roc_auc
from course_utils.evaluation.paired import (
    accuracy_of,
    paired_bootstrap,
    paired_seeds,
    t_quantile_975,
    verdict,
)


def test_t_table_matches_scipy():
    for df in range(1, 31):
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=1e-3)
    for df in (31, 45, 80, 200, 10_000):
        assert t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=1e-4)
    with pytest.raises(ValueError, match="2 seeds"):
        t_quantile_975(0)


def test_per_seed_differences_match_a_direct_computation_and_scipys_paired_t():
    rng = np.random.default_rng(1)
    shared = rng.normal(0.8, 0.05, size=5)            # seed-to-seed noise both arms share
    a, b = shared + 0.01 + rng.normal(0, 0.003, 5), shared + rng.normal(0, 0.003, 5)
    d = paired_seeds(a, b)
    direct = a - b
    assert d.mean == pytest.approx(direct.mean()) and d.sd == pytest.approx(direct.std(ddof=1))
    assert d.n_positive == int((direct > 0).sum())
    low, high = d.interval()
    reference = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (low, high) == pytest.approx((reference.low, reference.high), abs=1e-4)
    # the point of pairing: the shared noise hides the effect from an unpaired reading
    assert d.a_ahead()
    assert not (a.mean() - b.mean() > max(a.std(ddof=1), b.std(ddof=1)))


def test_control_without_an_effect_is_not_called_ahead():
    rng = np.random.default_rng(2)
    shared = rng.normal(0.8, 0.05, size=5)
    a, b = shared + rng.normal(0, 0.003, 5), shared + rng.normal(0, 0.003, 5)
    d = paired_seeds(a, b)
    assert not d.a_ahead() and not d.b_ahead()


def test_one_seed_has_no_spread_and_says_so():
    d = paired_seeds([0.8], [0.7])
    assert math.isnan(d.sd) and all(map(math.isnan, d.interval())) and not d.a_ahead()
    assert "one seed" in d.describe()
    assert verdict(*d.interval(), margin=0.01).startswith("not measurable")
    with pytest.raises(ValueError, match="one score per seed"):
        paired_seeds([0.8, 0.7], [0.7])


def direct_paired_bootstrap(metric, y, out_a, out_b, n_resamples, seed):
    """The same resampling written out plainly: one index draw per class, both models on it."""
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(y == c) for c in np.unique(y)]
    diffs = []
    for _ in range(n_resamples):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in classes])
        diffs.append(metric(y[idx], out_a[idx]) - metric(y[idx], out_b[idx]))
    return np.quantile(diffs, [0.025, 0.975])


def test_paired_bootstrap_matches_a_direct_loop_and_is_narrower_than_unpaired():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    score_b = np.clip(0.5 * y + rng.normal(0.25, 0.25, 400), 0, 1)
    score_a = np.clip(score_b + 0.02 * (2 * y - 1) + rng.normal(0, 0.01, 400), 0, 1)  # B plus a small gain
    result = paired_bootstrap(roc_auc, y, score_a, score_b, n_resamples=300, seed=7)
    low, high = direct_paired_bootstrap(roc_auc, y, score_a, score_b, 300, 7)
    assert (result.low, result.high) == pytest.approx((low, high))
    assert result.observed == pytest.approx(roc_auc(y, score_a) - roc_auc(y, score_b))
    assert result.low > 0 and result.share_a_ahead > 0.975
    # unpaired: each model's own interval; they overlap although the paired interval excludes 0
    rng_u = np.random.default_rng(7)
    own = [[roc_auc(y[i], s[i]) for i in (rng_u.integers(0, 400, 400) for _ in range(300))] for s in (score_a, score_b)]
    assert np.quantile(own[0], 0.025) < np.quantile(own[1], 0.975)


def test_paired_bootstrap_agrees_with_scipys_paired_bootstrap():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 10, 1000)
    pred_b = np.where(rng.random(1000) < 0.75, y, rng.integers(0, 10, 1000))
    pred_a = np.where(rng.random(1000) < 0.3, y, pred_b)  # A fixes some of B's mistakes
    ours = paired_bootstrap(accuracy_of, y, pred_a, pred_b, n_resamples=2000, seed=0, stratified=False)
    theirs = stats.bootstrap((pred_a == y, pred_b == y), lambda ra, rb: ra.mean() - rb.mean(), paired=True,
                             n_resamples=2000, method="percentile", random_state=0).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.006) and ours.high == pytest.approx(theirs.high, abs=0.006)


def test_control_bootstrap_of_identical_models_is_a_tie_not_a_win():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < 0.8, y, 1 - y)
    result = paired_bootstrap(accuracy_of, y, pred, pred.copy(), n_resamples=200)
    assert result.low == result.high == result.observed == 0
    assert verdict(result.low, result.high, margin=0.01).startswith("tie")


def test_verdict_claims_a_tie_only_inside_the_margin():
    assert verdict(0.01, 0.05, margin=0.02).startswith("A ahead")
    assert "within ±0.030: a real, small difference" in verdict(0.001, 0.02, margin=0.03)
    assert verdict(-0.05, -0.01, margin=0.02).startswith("B ahead")
    assert verdict(-0.01, 0.015, margin=0.02).startswith("tie")
    wide = verdict(-0.01, 0.08, margin=0.02)
    assert wide.startswith("not separated") and "+0.080" in wide


def test_mismatched_lengths_name_the_problem():
    with pytest.raises(ValueError, match="3 labels, 3 and 2 outputs"):
        paired_bootstrap(accuracy_of, [0, 1, 0], [0, 1, 0], [0, 1])
