"""Each lesson's own configuration: the values its configuration cell sets, in fast and full mode.

The numbers a lesson states and checks were measured with these values, so
``course_utils.claims`` compares a notebook's live settings with them to tell a regression
(the lesson's own configuration, a hard failure) from a learner's experiment (an explanation).
``tests/test_lesson_settings.py`` runs every configuration cell in both modes and checks that it
sets exactly these values, so the two cannot drift apart.

>>> lesson_settings("00", fast=True)["K_PER_CLASS"], lesson_settings("00", fast=False)["K_PER_CLASS"]
(20, 100)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _lesson00(fast: bool) -> dict[str, Any]:
    return dict(
        SEED=0, K_PER_CLASS=20 if fast else 100, N_TEST=1000 if fast else 5000, IMAGE_SIZE=64,
        HEAD_EPOCHS=40,
    )


def _lesson01(fast: bool) -> dict[str, Any]:
    return dict(
        SEED=0, PAIR=[0, 6], PAIR_PER_CLASS=500 if fast else 3000, SGD_EPOCHS=10, SGD_LR=0.05,
        SGD_BATCH=50, WEIGHT_DECAY=1e-3, ADAM_STEPS=300 if fast else 600,
        TEN_PER_CLASS=200 if fast else 1000, EPOCHS=5 if fast else 10,
        SMALL_PER_CLASS=30 if fast else 50, OVERFIT_EPOCHS=40 if fast else 60, PATIENCE=5,
        IMAGE_SIZE=40, FEW_PER_CLASS=10, TARGET_VAL_PER_CLASS=30 if fast else 50, PROBE_L2=0.1,
        PROBE_SEEDS=5, GD_STEPS=200, GD_LR=0.02, FT_SEEDS=3, FT_EPOCHS=4 if fast else 6,
        FT_BATCH=20,
    )


def _lesson02(fast: bool) -> dict[str, Any]:
    return dict(
        SEED=0, BACKBONE="efficientnet_lite0", PHOTO_SIZE=224, IMAGE_SIZE=64,
        K_PER_CLASS=20 if fast else 50, N_DRAWS=5, N_RANDOM_DRAWS=3, N_VAL=20 if fast else 30,
        PROBE_CS=(0.01, 0.1, 1.0, 10.0), N_TEST=1000 if fast else 2000,
        N_MAP=500 if fast else 2000, K_XRAY=50 if fast else 100, N_XRAY_VAL=50,
        N_XRAY_TEST=400 if fast else 624, K_FACES=10, N_FACE_VAL=20,
    )


def _lesson03(fast: bool) -> dict[str, Any]:
    return dict(
        SEEDS=[0] if fast else [0, 1, 2], BACKBONE="efficientnet_lite0", SIZE=40, BATCH_SIZE=16,
        K_VALUES=[5, 20], EPOCHS={5: 6, 20: 4} if fast else {5: 12, 20: 8}, TUNE_K=20,
        PROBE_EXTRA_K=[50] if fast else [100, 500], PROBE_EPOCHS=100, PARTIAL_STAGES=2,
        LAYER_DECAY=0.7, VAL_PER_CLASS=10 if fast else 15, TEST_PER_CLASS=50 if fast else 100,
        SOURCE_PER_CLASS=400 if fast else 1000, SOURCE_EPOCHS=3, B_K_VALUES=[5, 20],
        B_EPOCHS={5: 25, 20: 8}, B_LRS=(1e-3, 3e-3), L2SP_ALPHAS=(3.0, 30.0), HP_EPOCHS=8,
        JUDGE_PER_CLASS=100, CNN_WIDTHS=(16, 32, 64),
    )


def _lesson04(fast: bool) -> dict[str, Any]:
    return dict(
        SEED=0, PHOTOS=("chelsea", "coffee", "rocket"), PHOTO_SIZE=224, PHOTO_EPS=(0.5, 1, 2, 8),
        TARGET_CLASS="goldfish", N_TRAIN=4000, N_VAL=300, EPOCHS=3,
        SEEDS=(0,) if fast else (0, 1, 2), CO_EPS=0.2, CO_TRAIN=4000 if fast else 8000,
        CO_EPOCHS=3 if fast else 5, CO_SEEDS=(0,) if fast else (0, 1, 2), CO_WIDTHS=(16, 32, 64),
        N_TEST=300 if fast else 500, N_CHECK=100 if fast else 200, RESTARTS=2,
        FT_TRAIN=300 if fast else 600, FT_SIZE=40, FT_EPOCHS=2, FT_EPS=4 / 255, FT_STEPS=5,
        N_FT_TEST=100, EPS=0.1, EPS_CURVE=(0.0, 0.03, 0.06, 0.1, 0.15), EPS_L2=1.0,
        PGD_STEPS=7 if fast else 10,
    )


def _lesson05(fast: bool) -> dict[str, Any]:
    return dict(
        SEED=0, PHOTOS=("chelsea", "coffee", "rocket"), PHOTO_SIZE=160, IG_STEPS=64,
        FASHION_TRAIN=3000 if fast else 10000, FASHION_TEST=1000 if fast else 2000,
        EPOCHS=3 if fast else 4, SANITY_DRAWS=3, DELETE_FRACTIONS=(0.05, 0.1, 0.2, 0.3),
        RANDOM_ORDERS=3, LR=2e-3, EPS_PHOTO=1 / 255, EPS_FASHION=0.1,
        TRANSFER_SEEDS=(0, 1) if fast else (0, 1, 2), TRANSFER_PER_CLASS=20, TRANSFER_EPOCHS=4,
        TRANSFER_IMAGES=500,
    )


def _lesson06(fast: bool) -> dict[str, Any]:
    return dict(
        SEEDS=[0, 1, 2], WIDTHS=(8, 16, 32), BATCH_SIZE=50, STEPS=60 if fast else 120, LR=3e-3,
        K_VALUES=[10] if fast else [10, 50], MAIN_K=10, VAL_PER_CLASS=50,
        TEST_PER_CLASS=100 if fast else 300, AUX_WEIGHTS=[0.3, 1.0, 3.0], BAD_WEIGHT=10.0,
        MEASURE_EVERY=5, MED_SIZE=40, MED_FROZEN_STAGES=8, MED_STEPS=80 if fast else 200,
        MED_BATCH=64, SPLIT_K=50, SPLIT_STEPS=60 if fast else 80, WIDGET_K=50, WIDGET_EPOCHS=10,
    )


def _lesson07(fast: bool) -> dict[str, Any]:
    return dict(
        SEEDS=[0, 1] if fast else [0, 1, 2],
        DATASETS=("pneumoniamnist", "breastmnist", "retinamnist"), BACKBONE="efficientnet_lite0",
        SIZE=40, BATCH_SIZE=64, TRAIN_LIMIT=600 if fast else None,
        EPOCHS=({"pneumoniamnist": 2, "breastmnist": 4, "retinamnist": 3} if fast
                else {"pneumoniamnist": 2, "breastmnist": 8, "retinamnist": 5}),
        HEAD_LR=1e-3, BACKBONE_LR=1e-4, SCRATCH_LR=3e-3, ARTICLE_LR=1e-4,
        PROBE_CS=(0.003, 0.01, 0.03, 0.1, 1.0), HEAD_EPOCHS=30,
        CHEAP_SEEDS=[0, 1, 2] if fast else [0, 1, 2, 3, 4], TARGET_SENSITIVITY=0.95,
        BOOTSTRAP=300 if fast else 1000, LABEL_SIZES=[50] if fast else [50, 300],
        MIN_EPOCH_IMAGES=640,
    )


def _lesson08(fast: bool) -> dict[str, Any]:
    return dict(
        SEED=0, TRAIN_IMAGES=1500 if fast else 4708, TRAIN_EPOCHS=2 if fast else 3,
        BOOTSTRAP=200 if fast else 1000, LATENCY_ROUNDS=100 if fast else 300,
        THROUGHPUT_ROUNDS=10 if fast else 30, WINDOW=100, ALPHA=0.05,
        NULL_TRIALS=40 if fast else 100, SHIFT_TRIALS=20 if fast else 40, NEW_PER_CLASS=25,
        REPLAY_PER_CLASS=100, RETRAIN_EPOCHS=6, RETRAIN_SEEDS=[0, 1, 2] if fast else [0, 1, 2, 3, 4],
        DDP_STEPS=3, DDP_GLOBAL_BATCH=32,
    )


LESSONS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "00": _lesson00, "01": _lesson01, "02": _lesson02, "03": _lesson03, "04": _lesson04,
    "05": _lesson05, "06": _lesson06, "07": _lesson07, "08": _lesson08,
}


def lesson_settings(lesson: str, fast: bool) -> dict[str, Any]:
    """The settings lesson ``lesson`` ("00" ... "08") is measured with, in fast or full mode."""
    if lesson not in LESSONS:
        raise KeyError(f"no settings recorded for lesson {lesson!r}; known: {', '.join(LESSONS)}")
    return LESSONS[lesson](fast)
