"""Models: pretrained backbones, model surgery (heads, freezing, learning-rate groups), cached features.

- ``backbones``: EfficientNet-Lite0 (offline), ResNet18 (online), a small CNN
- ``surgery``: replace the head, freeze and unfreeze stages, parameter groups, split at a stage
- ``features``: run a frozen backbone once and cache the pooled features
- ``multitask``: hard parameter sharing, one backbone and one head per task (lesson 06)
"""
