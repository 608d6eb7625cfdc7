"""Writes test/fixtures/onnx/: models exported by torch.onnx.export (PyTorch 1.13) and PyTorch float64's
outputs for them, for loadOnnx's tests.

Run: /usr/bin/python3 scripts/fixtures_onnx.py   (Debian's python3-torch, python3-torchvision, python3-onnx).

The torchvision models (resnet18, mobilenet_v2, squeezenet1_1, random weights: nothing can be downloaded)
have megabytes of weights, so their files are committed without them: every weight is a function of its
name (fill() below, which test/onnx-fixtures.ts repeats bit for bit), the initializer keeps its dims and
type and says {"fill": [lo, hi]} in its doc_string, and the test writes the bytes back before loading.
They are exported with training=PRESERVE so that their BatchNorm nodes stay (and loadOnnx's folding is
exercised); the small models are exported in eval mode (torch folds BatchNorm itself) with their weights.
Every file is exported twice, in float64 and float32; the outputs are float64 torch's on the float64 weights.
"""
import json
import os
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "onnx")
M = np.uint64(0xFFFFFFFF)


def fnv1a(name):
    h = 0x811C9DC5
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def fill(name, n, lo, hi):
    """n values in [lo, hi) from the murmur3 finaliser of (fnv1a(name) + i * 0x9E3779B9) mod 2^32."""
    i = np.arange(n, dtype=np.uint64)
    h = (np.uint64(fnv1a(name)) + i * np.uint64(0x9E3779B9)) & M
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M
    h ^= h >> np.uint64(16)
    return lo + (hi - lo) * (h.astype(np.float64) / 4294967296.0)


def bounds(name, shape, module):
    if name.endswith("running_var"):
        return 0.5, 1.5
    if name.endswith("running_mean"):
        return -0.2, 0.2
    if isinstance(module, nn.BatchNorm2d):
        return (0.5, 1.5) if name.endswith("weight") else (-0.2, 0.2)
    if len(shape) >= 2:
        b = float(np.sqrt(6.0 / np.prod(shape[1:])))
        return -b, b
    return -0.1, 0.1


def randomise(model):
    """Every parameter and BatchNorm statistic from fill(); returns {name: (lo, hi)}."""
    modules = dict(model.named_modules())
    ranges = {}
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            lo, hi = bounds(name, tuple(t.shape), modules[name.rsplit(".", 1)[0]] if "." in name else model)
            t.copy_(torch.tensor(fill(name, t.numel(), lo, hi).reshape(tuple(t.shape))))
            ranges[name] = (lo, hi)
    return ranges


def export(model, x, path, opset, dtype, preserve):
    m = model.to(dtype)
    torch.onnx.export(
        m,
        x.to(dtype),
        path,
        opset_version=opset,
        input_names=["input"],
        output_names=["output"],
        training=torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL,
        do_constant_folding=True,
        # the float32 files with a dynamic batch, as servers export them (the shape arithmetic around reshapes stays)
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dtype == torch.float32 else None,
    )


def strip(path, ranges, dtype):
    """Replaces each initializer that is a fill() of its name by its recipe (the test writes it back)."""
    model = onnx.load(path)
    kept = 0
    for init in model.graph.initializer:
        if init.name not in ranges:
            kept += 1
            continue
        a = numpy_helper.to_array(init)
        lo, hi = ranges[init.name]
        want = fill(init.name, a.size, lo, hi).astype(dtype).reshape(a.shape)
        assert np.array_equal(a, want), init.name
        init.ClearField("raw_data")
        init.ClearField("float_data")
        init.ClearField("double_data")
        init.doc_string = json.dumps({"fill": [lo, hi]})
    onnx.save(model, path)
    return kept


def ops_of(path):
    return sorted({n.op_type for n in onnx.load(path).graph.node})


def write(name, model, shape, opsets, preserve, stripped):
    model.eval()
    ranges = randomise(model.double()) if stripped else None
    if not stripped:
        torch.manual_seed(0)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        model.double()
    x = torch.tensor(fill("input", int(np.prod(shape)), -1.0, 1.0).reshape(shape))
    with torch.no_grad():
        y = model(x)
    files = {}
    for dtype, np_dtype, opset in [(torch.float64, np.float64, opsets[0]), (torch.float32, np.float32, opsets[1])]:
        file = f"{name}.{'f64' if dtype == torch.float64 else 'f32'}.onnx"
        path = os.path.join(OUT, file)
        export(model, x, path, opset, dtype, preserve)
        if stripped:
            strip(path, ranges, np_dtype)
        files["f64" if dtype == torch.float64 else "f32"] = {"file": file, "opset": opset, "ops": ops_of(path)}
        model.double()
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump({"input": list(shape), "output": list(y.shape), "y": [float(v) for v in y.reshape(-1)], "files": files}, f)
    print(name, files["f64"]["ops"], os.path.getsize(os.path.join(OUT, files["f64"]["file"])))


class Digits(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 5, padding=2)
        self.c2 = nn.Conv2d(16, 32, 5, padding=2)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return F.softmax(self.fc(x.view(x.size(0), -1)), dim=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    write("resnet18", torchvision.models.resnet18(weights=None), (2, 3, 70, 70), (17, 13), True, True)
    write("mobilenet_v2", torchvision.models.mobilenet_v2(weights=None), (2, 3, 70, 70), (13, 9), True, True)
    write("squeezenet1_1", torchvision.models.squeezenet1_1(weights=None), (2, 3, 70, 70), (12, 17), True, True)
    write("digits", Digits(), (2, 1, 28, 28), (14, 9), False, False)


if __name__ == "__main__":
    main()
