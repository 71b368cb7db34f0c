"""A model card (Mitchell et al., 2019) written from an artefact's own metadata.

The card is generated, never typed by hand, so it cannot drift from the model it describes:
what the model is, what it was trained on, how well it does (with confidence intervals),
what it is for and what it must not be used for. Anything the metadata lacks is printed as
*not recorded*, so gaps are visible instead of silently missing.

>>> import torch
>>> from course_utils.models.backbones import load_backbone
>>> from course_utils.models.surgery import replace_head
>>> p = Predictor(replace_head(load_backbone(pretrained=False), 2), {"backbone": "efficientnet_lite0", "num_classes": 2},
...               {"channels": 1, "source_size": 28, "input_size": 40}, ["normal", "pneumonia"], "1.0.0",
...               metadata={"metrics": {"auc": [0.95, 0.93, 0.97]}})
>>> print(model_card(p, "pneumoniamnist").splitlines()[0])
# Model card: pneumoniamnist v1.0.0
>>> "| auc | 0.950 | 0.930 to 0.970 |" in model_card(p)
True
"""

from __future__ import annotations

from pathlib import Path

from .predictor import Predictor

MISSING = "*not recorded*"


def _number(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _metrics_table(metrics: dict) -> list[str]:
    if not metrics:
        return [MISSING]
    rows = ["| metric | value | 95% interval |", "|---|---|---|"]
    for name, value in metrics.items():
        if isinstance(value, (list, tuple)) and len(value) == 3:
            rows.append(f"| {name} | {_number(value[0])} | {_number(value[1])} to {_number(value[2])} |")
        else:
            rows.append(f"| {name} | {_number(value)} | - |")
    return rows


def _key_values(values: dict) -> list[str]:
    return [f"- {key}: {_number(value)}" for key, value in values.items()] if values else [MISSING]


def model_card(predictor: Predictor, name: str = "model") -> str:
    """The model card of ``predictor`` as Markdown."""
    meta = predictor.metadata
    data = dict(meta.get("data", {}))
    splits = data.pop("splits", {})
    p = predictor.preprocessing
    decision = (f"`{predictor.classes[1]}` when its probability is at least {predictor.threshold:.3f}"
                if predictor.threshold is not None else "the most probable class")
    lines = [
        f"# Model card: {name} v{predictor.version}", "",
        "## Model",
        f"- architecture: {predictor.architecture.get('backbone')} with a {len(predictor.classes)}-class head",
        f"- input: any image, made {p['channels']}-channel, centre-cropped and resized to "
        f"{p['source_size']}x{p['source_size']} px, then upsampled to {p['input_size']} px with ImageNet normalisation",
        f"- classes: {', '.join(predictor.classes)}",
        f"- probabilities: softmax(logits / {predictor.temperature:.3f}) (temperature fitted on validation data)",
        f"- decision: {decision}",
        f"- created by: {meta.get('created_by', MISSING)}", "",
        "## Intended use", meta.get("intended_use", MISSING), "",
        "## Training data",
        *_key_values(data),
        "- splits: " + (", ".join(f"{k} {v}" for k, v in splits.items()) if splits else MISSING), "",
        "## Training procedure", *_key_values(meta.get("training", {})), "",
        "## Evaluation (test set, bootstrap 95% intervals)", *_metrics_table(meta.get("metrics", {})), "",
        "## Limitations",
        *([f"- {item}" for item in meta.get("limitations", [])] or [MISSING]),
    ]
    if "monitoring" in meta:
        lines += ["", "## Monitoring", *_key_values(meta["monitoring"])]
    if meta.get("lineage"):
        lines += ["", "## Versions"]
        lines += [f"- from v{step['parent']}: fine-tuned on {step['new_images']} new images"
                  f" + {step['replay_images']} replayed old images" for step in meta["lineage"]]
    return "\n".join(lines) + "\n"


def write_model_card(predictor: Predictor, path: str | Path, name: str = "model") -> Path:
    """Write :func:`model_card` to ``path`` (e.g. beside the artefact, ``.md``)."""
    path = Path(path)
    path.write_text(model_card(predictor, name))
    return path
