"""Does the backbone variant move ONNX Runtime's speed against eager PyTorch?

Lite0 as trained uses TF "same" padding (timm's ``Conv2dSame``, padding computed at run time);
the course once ran it with PyTorch's static padding. This runs ``bench_deployment``'s
comparison (eager NCHW vs ONNX Runtime fp32, interleaved, p50) for three variants of one
predictor with the same head: as trained, as trained built with timm's ``exportable`` layers
(static "same" padding, identical logits), and with PyTorch padding (the old, wrong variant).
If the ratios agree, a change of the deployment figures comes from the processor, not the fix.
Run: .venv/bin/python -m benchmarks.bench_deployment_padding
"""

import tempfile
from pathlib import Path

import timm
import torch
from timm.layers import set_layer_config

from benchmarks.common import machine
from course_utils import load_backbone, load_medmnist, replace_head
from course_utils.deployment import Predictor
from course_utils.deployment.export import export_onnx, onnx_runner, onnx_session
from course_utils.deployment.speed import summarize, time_interleaved
from course_utils.models.backbones import _lite_weight_file, _load_in_order
from course_utils.models.misconfigured import lite0_with_pytorch_padding
from course_utils.runtime import configure_threads

REPEATS = {1: 200, 64: 30}


def exportable_lite0() -> torch.nn.Module:
    with set_layer_config(exportable=True):
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    _load_in_order(model, torch.load(_lite_weight_file(0), map_location="cpu", weights_only=True))
    model.input_convention = load_backbone("efficientnet_lite0").input_convention
    return model.eval()


def main() -> None:
    threads = configure_threads()
    val, test = load_medmnist("pneumoniamnist", "val"), load_medmnist("pneumoniamnist", "test")
    backbones = {"as trained": load_backbone("efficientnet_lite0"), "exportable": exportable_lite0(),
                 "PyTorch padding": lite0_with_pytorch_padding()}
    torch.manual_seed(0)
    head_state, runners = None, {}
    for name, backbone in backbones.items():
        model = replace_head(backbone, 2)
        head_state = head_state or model.get_classifier().state_dict()
        model.get_classifier().load_state_dict(head_state)
        predictor = Predictor(model, {"backbone": "efficientnet_lite0", "num_classes": 2},
                              {"channels": 1, "source_size": 28, "input_size": 40}, ["normal", "pneumonia"], "1.0.0")
        path = export_onnx(predictor, Path(tempfile.mkdtemp()) / "model.onnx", val.images[:2].float() / 255)
        runners[name] = (predictor.network.eval(), onnx_runner(onnx_session(path)))
    print(f"machine: {machine()}, {threads} threads")
    reference = runners["as trained"][0]
    with torch.inference_mode():
        x = test.images[:64].float() / 255
        for name, (network, _) in runners.items():
            print(f"{name:16s} max |logit - as trained| = {float((network(x) - reference(x)).abs().max()):.2e}")
    for batch, repeats in REPEATS.items():
        x = test.images[:batch].float() / 255
        array = x.numpy()
        candidates = {}
        for name, (network, ort) in runners.items():
            candidates[f"eager {name}"] = lambda x=x, n=network: _infer(n, x)
            candidates[f"ORT {name}"] = lambda a=array, o=ort: o(a)
        stats = {k: summarize(t, batch) for k, t in time_interleaved(candidates, repeats=repeats, warmup=5).items()}
        print(f"--- batch {batch}, {repeats} interleaved rounds")
        for name in runners:
            eager, ort = stats[f"eager {name}"]["p50_ms"], stats[f"ORT {name}"]["p50_ms"]
            print(f"{name:16s} eager p50 {eager:7.2f} ms, ORT p50 {ort:7.2f} ms: ORT speed ratio {eager / ort:.2f}x")


def _infer(network, x):
    with torch.inference_mode():
        return network(x)


if __name__ == "__main__":
    main()
