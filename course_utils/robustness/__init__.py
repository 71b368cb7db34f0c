"""Robustness: adversarial attacks in pixel space and what they do to a model.

- ``attacks``: FGSM and PGD (L-infinity and L2), leaving the model as found
- ``robust``: accuracy under attack, robustness curves, batches for adversarial training
"""
