"""course_utils: the plumbing behind the transfer-learning course's notebooks.

Modules, one idea each:

- ``paths``, ``kit``: where data lives, what is present offline
- ``datasets``, ``splits``, ``folders``: real images as tensors, few-shot subsets, your own folders
- ``transforms``, ``loaders``: batched augmentation/preprocessing, the device-resident loader
- ``backbones``, ``surgery``, ``features``: pretrained networks, heads and freezing, cached features
- ``training``, ``evaluation``, ``history``, ``checkpoints``, ``runtime``: the loop and its parts
- ``inspection``, ``receptive_field``, ``probes``: feature maps, receptive fields, per-stage probes (lesson 02)
- ``lr_finder``, ``finetune``: learning-rate range test, phased unfreezing and two-phase fine-tuning (lesson 03)
- ``attacks``, ``robust``: FGSM and PGD in pixel space, robustness curves, adversarial training (lesson 04)
- ``explain``: Grad-CAM by hand with hooks that always come off, sanity checks (lesson 05)
- ``plots``: learning curves, image grids, confusion matrices
- ``exercises``: checkers for the exercises at the end of each lesson
"""

from .backbones import IMAGENET_CLASSES, SmallCNN, efficientnet_lite0, load_backbone, resnet18
from .checkpoints import load_checkpoint, save_checkpoint
from .datasets import LabeledImages, load_fashion_mnist, load_medmnist, load_photos
from .evaluation import accuracy, evaluate, predict
from .features import extract_features
from .folders import ImageFolderDataset
from .history import History
from .loaders import DeviceLoader
from .paths import data_dir, fast_mode
from .runtime import get_device, seed_everything
from .splits import few_shot, train_val_split
from .surgery import count_parameters, freeze, param_groups, replace_head, unfreeze
from .training import Callback, FitConfig, TrainingDivergedError, fit
from .transforms import Augment, ImageNetInput, Normalize, imagenet_preprocess

__all__ = [
    "IMAGENET_CLASSES", "SmallCNN", "efficientnet_lite0", "load_backbone", "resnet18",
    "load_checkpoint", "save_checkpoint", "LabeledImages", "load_fashion_mnist", "load_medmnist",
    "load_photos", "accuracy", "evaluate", "predict", "extract_features", "ImageFolderDataset",
    "History", "DeviceLoader", "data_dir", "fast_mode", "get_device", "seed_everything",
    "few_shot", "train_val_split", "count_parameters", "freeze", "param_groups", "replace_head",
    "unfreeze", "Callback", "FitConfig", "TrainingDivergedError", "fit", "Augment",
    "ImageNetInput", "Normalize", "imagenet_preprocess",
]
