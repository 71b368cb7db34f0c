"""Data: real images as tensors, splits, your own folders, batched transforms, the device loader.

- ``datasets``: Fashion-MNIST, MedMNIST and photos as :class:`~course_utils.data.datasets.LabeledImages`
- ``splits``: seeded few-shot subsets and stratified train/validation splits
- ``folders``: image folders labelled by sub-folder or ``<label>_`` prefix, and the reverse export
- ``transforms``: augmentation and ImageNet preprocessing on whole batches
- ``loaders``: :class:`~course_utils.data.loaders.DeviceLoader`, the whole data set on the device
- ``auxiliary``: labels for auxiliary tasks (coarse groups, random labels, rotation prediction)
- ``kit``: what of the offline kit is on this machine (``python -m course_utils.data.kit``)
"""
