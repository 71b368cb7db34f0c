"""Deployment: from a notebook model to a monitored, retrained service (lesson 08).

- ``inputs``: decode and check any image input (path, bytes, PIL, tensor, array)
- ``predictor``: :class:`Predictor`, one artefact with preprocessing, network, classes,
  calibration and version; :func:`artefact_path`
- ``export``: ``torch.export`` and ONNX (ONNX Runtime), checked against eager PyTorch
- ``quantize``: int8 post-training quantisation with ONNX Runtime, calibrated on real images
- ``speed``: latency percentiles and throughput, candidates interleaved in one process
- ``service``: the FastAPI web service (``python -m course_utils.deployment.service``)
- ``shift``: a simulated change of scanner (blur, exposure, noise) on real images
- ``drift``: confidence and feature two-sample tests (MMD, KS) and their false-alarm rate
- ``retrain``: fine-tune v1 into v2 on a few new images, with or without replay
- ``registry``: versioned artefacts, promotion and rollback
- ``distributed``: the DistributedDataParallel training step run under ``torchrun``
- ``card``: a model card written from an artefact's metadata
"""

from .predictor import Prediction, Predictor, artefact_path

__all__ = ["Predictor", "Prediction", "artefact_path"]
