"""course_utils: the plumbing behind the transfer-learning course's notebooks.

Subpackages, grouped by concern (each module one idea):

- ``data``: data sets, splits, your own folders, batched transforms, the device loader, the kit
- ``models``: backbones, surgery (heads, freezing, LR groups), cached features
- ``training``: the ``fit`` loop, history, checkpoints, LR range test, phased fine-tuning
- ``evaluation``: accuracy, loss and predictions
- ``robustness``: FGSM and PGD, robustness curves, adversarial training (lesson 04)
- ``explanations``: feature maps, receptive fields, probes, Grad-CAM (lessons 02 and 05)
- ``paths``, ``runtime``, ``plots``: where files go; device, threads and seeds; figures
- ``exercises``: checkers for the exercises at the end of each lesson

The names a notebook uses most are importable from the top: ``from course_utils import fit``.
"""

from .data.datasets import LabeledImages, load_fashion_mnist, load_medmnist, load_photos
from .data.folders import ImageFolderDataset
from .data.loaders import DeviceLoader
from .data.splits import few_shot, train_val_split
from .data.transforms import Augment, ImageNetInput, Normalize, imagenet_preprocess
from .evaluation.classification import accuracy, evaluate, predict
from .models.backbones import (
    IMAGENET_CLASSES,
    SmallCNN,
    efficientnet_lite0,
    load_backbone,
    resnet18,
)
from .models.features import extract_features
from .models.surgery import count_parameters, freeze, param_groups, replace_head, unfreeze
from .paths import data_dir, fast_mode
from .runtime import get_device, seed_everything
from .training.checkpoints import load_checkpoint, save_checkpoint
from .training.history import History
from .training.loop import Callback, FitConfig, TrainingDivergedError, fit

__all__ = [
    "IMAGENET_CLASSES", "SmallCNN", "efficientnet_lite0", "load_backbone", "resnet18",
    "load_checkpoint", "save_checkpoint", "LabeledImages", "load_fashion_mnist", "load_medmnist",
    "load_photos", "accuracy", "evaluate", "predict", "extract_features", "ImageFolderDataset",
    "History", "DeviceLoader", "data_dir", "fast_mode", "get_device", "seed_everything",
    "few_shot", "train_val_split", "count_parameters", "freeze", "param_groups", "replace_head",
    "unfreeze", "Callback", "FitConfig", "TrainingDivergedError", "fit", "Augment",
    "ImageNetInput", "Normalize", "imagenet_preprocess",
]
