"""Explanations: what a network computes and where it looks.

- ``inspection``: stage feature maps and pooled per-stage features, first-layer filters
- ``receptive_field``: receptive fields by formula and by gradient
- ``probes``: linear and k-NN probes, 2-D maps of features
- ``explain``: Grad-CAM by hand, overlays, the cascading-randomisation sanity check
"""
