"""Writes test/fixtures/onnx/: models exported by torch.onnx.export (PyTorch 1.13) and PyTorch float64's
outputs for them, for loadOnnx's tests.

Run: /usr/bin/python3 scripts/fixtures_onnx.py   (Debian's python3-torch, python3-torchvision, python3-onnx).

The torchvision models (resnet18, mobilenet_v2, squeezenet1_1 and six more, random weights: nothing can be downloaded)
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


def random_batchnorm(model, shift):
    """BatchNorm statistics and affine parameters away from 0 and 1 (so that folding them is exercised)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-shift, shift)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-shift, shift)


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
        random_batchnorm(model, 0.2)
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


def digits():
    torch.manual_seed(0)
    return Digits()


def npz():
    """The digits network (the ONNX fixture's weights) as nn.Sequential, through scripts/torch_to_npz.py."""
    import io
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from torch_to_npz import convert

    d = digits()
    seq = nn.Sequential(d.c1, nn.ReLU(), nn.MaxPool2d(2), d.c2, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), d.fc, nn.Softmax(1)).double()
    buf = io.BytesIO()
    np.savez(buf, **convert(seq, (1, 28, 28)))
    with open(os.path.join(OUT, "digits.npz"), "wb") as f:
        f.write(buf.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    write("resnet18", torchvision.models.resnet18(weights=None), (2, 3, 70, 70), (17, 13), True, True)
    write("mobilenet_v2", torchvision.models.mobilenet_v2(weights=None), (2, 3, 70, 70), (13, 9), True, True)
    write("squeezenet1_1", torchvision.models.squeezenet1_1(weights=None), (2, 3, 70, 70), (12, 17), True, True)
    write("digits", digits(), (2, 1, 28, 28), (14, 9), False, False)
    npz()
    # more of torchvision's zoo, one example of 64×64: BatchNorm alone and avgpool (densenet), hard swish as
    # x·hard_sigmoid(x) and squeeze-and-excitation (mobilenet_v3), swish as x·sigmoid(x) (efficientnet),
    # the channel shuffle and its split (shufflenet_v2), grouped convs (regnet), inception blocks (googlenet)
    for name, opsets in [
        ("densenet121", (13, 11)),
        ("mobilenet_v3_small", (13, 14)),
        ("efficientnet_b0", (13, 11)),
        ("shufflenet_v2_x0_5", (11, 13)),
        ("regnet_y_400mf", (13, 16)),
        ("googlenet", (13, 12)),
    ]:
        extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        write(name, getattr(torchvision.models, name)(weights=None, **extra), (1, 3, 64, 64), opsets, True, True)
    ops()




# ---- one small model per op and attribute: test/fixtures/onnx/ops.json ----

class Lambda(nn.Module):
    def __init__(self, f, **mods):
        super().__init__()
        self.f = f
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.f(self, x)


def se_block():
    return Lambda(
        lambda m, x: x * F.hardsigmoid(m.up(F.relu(m.down(F.adaptive_avg_pool2d(x, 1))))),
        down=nn.Conv2d(6, 3, 1),
        up=nn.Conv2d(3, 6, 1),
    )


torch.manual_seed(2)  # the cases' weights, drawn as they are made (the same on every run)
TORCH_CASES = {
    # name: (module, input shape, opset, dynamic batch)
    "conv_stride_dilation_groups": (nn.Conv2d(4, 6, 3, stride=2, padding=(1, 2), dilation=2, groups=2), (2, 4, 11, 9), 11, False),
    "conv_depthwise_nobias": (nn.Conv2d(4, 8, 3, padding=1, groups=4, bias=False), (2, 4, 7, 6), 13, True),
    "conv_rect_stride": (nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=(0, 1)), (1, 3, 8, 7), 7, False),
    "maxpool_ceil_pad": (nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 10, 9), 11, False),
    "maxpool_rect": (nn.MaxPool2d((2, 3), stride=(2, 1)), (1, 2, 6, 7), 8, False),
    "avgpool_ceil_include_pad": (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=True), (2, 3, 10, 9), 11, False),
    "avgpool_exclude_pad": (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 9, 9), 13, False),
    "leaky_relu": (nn.LeakyReLU(0.2), (2, 3, 4, 5), 13, False),
    "hard_sigmoid": (nn.Hardsigmoid(), (2, 3, 4, 5), 13, False),
    "hard_swish": (nn.Hardswish(), (2, 3, 4, 5), 14, False),
    "sigmoid": (nn.Sigmoid(), (2, 3, 4, 5), 13, False),
    "clip_attributes": (Lambda(lambda m, x: torch.clamp(x, -0.5, 1.5)), (2, 3, 4, 5), 9, False),
    "clip_inputs": (Lambda(lambda m, x: torch.clamp(x, min=-0.25)), (2, 3, 4, 5), 13, False),
    "relu6": (nn.ReLU6(), (2, 3, 4, 5), 11, False),
    "swish": (nn.SiLU(), (2, 3, 4, 5), 14, False),
    "batchnorm_alone": (nn.Sequential(nn.BatchNorm2d(3), nn.ReLU()), (2, 3, 4, 5), 15, False),
    "squeeze_excitation": (se_block(), (2, 6, 5, 4), 13, False),
    "pad_concat": (Lambda(lambda m, x: torch.cat([F.pad(x, (1, 2, 0, 1)), F.pad(x, (0, 3, 1, 0))], 1)), (2, 3, 4, 5), 11, False),
    "pad_opset9": (nn.ZeroPad2d((2, 0, 1, 1)), (1, 2, 3, 3), 9, False),
    "reduce_mean_gemm": (Lambda(lambda m, x: m.fc(x.mean((2, 3))), fc=nn.Linear(3, 4)), (2, 3, 4, 5), 13, False),
    "reduce_mean_keepdims": (Lambda(lambda m, x: x.mean((2, 3), keepdim=True).flatten(1)), (2, 3, 4, 5), 17, False),
    "matmul_add": (Lambda(lambda m, x: torch.flatten(x, 1) @ m.w + m.b, w=nn.Parameter(torch.randn(60, 5)), b=nn.Parameter(torch.randn(5))), (2, 3, 4, 5), 13, True),
    "global_max_squeeze": (Lambda(lambda m, x: F.adaptive_max_pool2d(x, 1).squeeze(-1).squeeze(-1)), (2, 3, 4, 5), 11, False),
    "flatten_gemm_view": (Lambda(lambda m, x: F.softmax(m.fc(x.view(x.size(0), -1)), 1), fc=nn.Linear(60, 7)), (2, 3, 4, 5), 13, True),
    "flatten_unsqueeze_conv": (Lambda(lambda m, x: m.conv(F.relu(m.fc(torch.flatten(x, 1))).unsqueeze(2).unsqueeze(3)).flatten(1), fc=nn.Linear(12, 3), conv=nn.Conv2d(3, 4, 1)), (2, 3, 2, 2), 11, False),
    "split_sizes": (Lambda(lambda m, x: torch.cat(torch.split(x, [1, 3, 2], dim=1)[::-1], 1)), (2, 6, 3, 4), 11, False),
    "split_input": (Lambda(lambda m, x: torch.cat(torch.split(x, [4, 2], dim=1)[::-1], 1)), (2, 6, 3, 4), 13, False),
    "slice_channels": (Lambda(lambda m, x: F.relu(x[:, 1:4]) + x[:, -3:]), (2, 6, 3, 4), 13, False),
    "channel_shuffle": (Lambda(lambda m, x: x.view(x.size(0), 3, 2, 3, 4).transpose(1, 2).contiguous().view(x.size(0), 6, 3, 4)), (2, 6, 3, 4), 13, True),
    "normalize_per_channel": (Lambda(lambda m, x: m.conv((x - m.mean) / m.std), conv=nn.Conv2d(3, 4, 3, padding=1), mean=nn.Parameter(torch.tensor([[[[0.4]], [[-0.1]], [[0.2]]]]), requires_grad=False), std=nn.Parameter(torch.tensor([[[[0.5]], [[2.0]], [[0.25]]]]), requires_grad=False)), (2, 3, 5, 4), 13, False),
    "scalar_affine": (Lambda(lambda m, x: F.relu(1.5 - (x * 0.5 + 1))), (2, 3, 4, 5), 11, False),
    "vector_affine": (Lambda(lambda m, x: m.fc(torch.flatten(x, 1)) * m.s - 1, fc=nn.Linear(60, 5), s=nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0, 0.25]), requires_grad=False)), (2, 3, 4, 5), 13, False),
    "dropout_identity": (nn.Sequential(nn.Dropout(0.5), nn.Identity(), nn.ReLU()), (2, 3, 4, 5), 13, False),
}


def onnx_case(nodes, inits, shape, out_shape, opset):
    """A model of hand-written nodes (attributes torch.onnx.export does not write)."""
    from onnx import TensorProto, helper

    g = helper.make_graph(
        nodes,
        "case",
        [helper.make_tensor_value_info("input", TensorProto.DOUBLE, ["N", *shape[1:]])],
        [helper.make_tensor_value_info("output", TensorProto.DOUBLE, None)],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return m.SerializeToString()


def hand_cases():
    from onnx import TensorProto, helper

    out = {}
    rs = np.random.RandomState(3)
    # Conv with auto_pad SAME_UPPER, SAME_LOWER and stride 2 (torch: asymmetric F.pad, then conv)
    for mode in ["SAME_UPPER", "SAME_LOWER", "VALID"]:
        W = rs.randn(4, 3, 3, 2)
        shape = (2, 3, 8, 7)
        node = helper.make_node("Conv", ["input", "W"], ["output"], auto_pad=mode, strides=[2, 2])
        x = torch.tensor(fill("input", int(np.prod(shape)), -1.0, 1.0).reshape(shape))
        pads = []
        for n, k in [(8, 3), (7, 2)]:
            total = max(0, (-(-n // 2) - 1) * 2 + k - n)
            small = total // 2
            pads.append((small, total - small) if mode == "SAME_UPPER" else (total - small, small))
        xp = x if mode == "VALID" else F.pad(x, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        y = F.conv2d(xp, torch.tensor(W), stride=2)
        out[f"conv_auto_pad_{mode.lower()}"] = (onnx_case([node], [helper.make_tensor("W", TensorProto.DOUBLE, W.shape, W.reshape(-1))], shape, y.shape, 11), shape, y)
    # Gemm: alpha, beta, transB 0, a bias [1, M]
    A, C = rs.randn(12, 5), rs.randn(1, 5)
    shape = (3, 12)
    node = helper.make_node("Gemm", ["input", "B", "C"], ["output"], alpha=0.5, beta=-2.0)
    x = torch.tensor(fill("input", 36, -1.0, 1.0).reshape(shape))
    y = 0.5 * x @ torch.tensor(A) - 2.0 * torch.tensor(C)
    out["gemm_alpha_beta"] = (
        onnx_case([node], [helper.make_tensor("B", TensorProto.DOUBLE, A.shape, A.reshape(-1)), helper.make_tensor("C", TensorProto.DOUBLE, C.shape, C.reshape(-1))], shape, y.shape, 13),
        shape,
        y,
    )
    # float16 weights, cast to double at load (Cast of a constant)
    W16 = rs.randn(2, 3, 1, 1).astype(np.float16)
    shape = (2, 3, 4, 4)
    nodes = [helper.make_node("Cast", ["W16"], ["W"], to=TensorProto.DOUBLE), helper.make_node("Conv", ["input", "W"], ["output"])]
    init = helper.make_tensor("W16", TensorProto.FLOAT16, W16.shape, W16.reshape(-1).tolist())
    x = torch.tensor(fill("input", 96, -1.0, 1.0).reshape(shape))
    y = F.conv2d(x, torch.tensor(W16.astype(np.float64)))
    out["float16_weights"] = (onnx_case(nodes, [init], shape, y.shape, 13), shape, y)
    # the shape arithmetic of a dynamic reshape: Shape, Gather, Unsqueeze, Slice, Concat, Mul on shapes
    shape = (2, 3, 2, 2)
    nodes = [
        helper.make_node("Shape", ["input"], ["s"]),
        helper.make_node("Slice", ["s", "one", "four"], ["chw"]),
        helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
        helper.make_node("Unsqueeze", ["b", "axes0"], ["b1"]),
        helper.make_node("Mul", ["minus1", "one"], ["m1"]),
        helper.make_node("Concat", ["b1", "m1"], ["target"], axis=0),
        helper.make_node("Reshape", ["input", "target"], ["output"]),
    ]
    i64 = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [len(v)], v)
    inits = [i64("one", [1]), i64("four", [4]), i64("axes0", [0]), i64("minus1", [-1]), helper.make_tensor("zero", TensorProto.INT64, [], [0])]
    x = torch.tensor(fill("input", 24, -1.0, 1.0).reshape(shape))
    y = x.reshape(2, -1)
    # ReduceMean of opset 18: axes as an input
    s4 = (2, 3, 4, 5)
    x4 = torch.tensor(fill("input", 120, -1.0, 1.0).reshape(s4))
    node = helper.make_node("ReduceMean", ["input", "axes"], ["output"], keepdims=0)
    out["reduce_mean_opset18"] = (onnx_case([node], [i64("axes", [-1, 2])], s4, (2, 3), 18), s4, x4.mean((2, 3)))
    out["shape_arithmetic_reshape"] = (onnx_case(nodes, inits, shape, y.shape, 13), shape, y)
    # the newer and older forms of the opsets: Split's num_outputs (18, uneven: the last part smaller)
    s7 = (2, 7, 3, 3)
    x7 = torch.tensor(fill("input", 126, -1.0, 1.0).reshape(s7))
    nodes = [
        helper.make_node("Split", ["input"], ["a", "b", "c"], axis=1, num_outputs=3),
        helper.make_node("Concat", ["c", "a", "b"], ["output"], axis=1),
    ]
    out["split_num_outputs_opset18"] = (onnx_case(nodes, [], s7, s7, 18), s7, torch.cat([x7[:, 6:], x7[:, :3], x7[:, 3:6]], 1))
    # pooling's dilations given as 1 (MaxPool; AveragePool has them from opset 19), at opsets 13, 19, 21
    s6 = (2, 3, 7, 7)
    x6 = torch.tensor(fill("input", 294, -1.0, 1.0).reshape(s6))
    for op, opset, f in [("MaxPool", 13, F.max_pool2d), ("AveragePool", 19, F.avg_pool2d), ("MaxPool", 21, F.max_pool2d)]:
        node = helper.make_node(op, ["input"], ["output"], kernel_shape=[3, 3], strides=[2, 2], dilations=[1, 1])
        y = f(x6, 3, 2)
        out[f"{op.lower()}_dilations_1_opset{opset}"] = (onnx_case([node], [], s6, y.shape, opset), s6, y)
    # Softmax of opset 11 (axis 1 of a 2-D value by default) after a Flatten and a Gemm
    W, b = rs.randn(4, 3), rs.randn(4)
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "W", "b"], ["z"], transB=1),
        helper.make_node("Softmax", ["z"], ["output"]),
    ]
    dbl = lambda name, a: helper.make_tensor(name, TensorProto.DOUBLE, a.shape, a.reshape(-1))
    y = torch.softmax(x6.mean((2, 3)) @ torch.tensor(W).T + torch.tensor(b), 1)
    out["softmax_opset11"] = (onnx_case(nodes, [dbl("W", W), dbl("b", b)], s6, y.shape, 11), s6, y)
    # Pad of opset 18 (pads and the value as inputs: a value other than 0 is refused by name); Clip of
    # opset 13 with a max only
    node = helper.make_node("Pad", ["input", "pads", "value"], ["output"], mode="constant")
    y = F.pad(x6, (2, 1, 1, 2))
    out["pad_opset18"] = (
        onnx_case([node], [i64("pads", [0, 0, 1, 2, 0, 0, 2, 1]), dbl("value", np.array(0.0))], s6, y.shape, 18),
        s6,
        y,
    )
    node = helper.make_node("Clip", ["input", "", "max"], ["output"])
    out["clip_max_only_opset13"] = (onnx_case([node], [dbl("max", np.array(0.5))], s6, s6, 13), s6, x6.clamp(max=0.5))
    # a grouped, padded Conv and its BatchNormalization at opset 21
    Wg, bg = rs.randn(6, 1, 3, 3), rs.randn(6)
    stats = [rs.uniform(0.5, 1.5, 6), rs.uniform(-0.2, 0.2, 6), rs.uniform(-0.2, 0.2, 6), rs.uniform(0.5, 1.5, 6)]
    nodes = [
        helper.make_node("Conv", ["input", "W", "B"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=3),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["output"], epsilon=1e-3),
    ]
    c = F.conv2d(x6, torch.tensor(Wg), torch.tensor(bg), padding=1, groups=3)
    sc, bi, mu, va = [torch.tensor(t)[None, :, None, None] for t in stats]
    y = (c - mu) / torch.sqrt(va + 1e-3) * sc + bi
    inits = [dbl("W", Wg), dbl("B", bg)] + [dbl(k, t) for k, t in zip(["scale", "bias", "mean", "var"], stats)]
    out["conv_group_batchnorm_opset21"] = (onnx_case(nodes, inits, s6, y.shape, 21), s6, y)
    # an image transposed to NHWC as the output, and transposed back before a conv
    nodes = [helper.make_node("Transpose", ["input"], ["t"], perm=[0, 2, 3, 1]), helper.make_node("Relu", ["t"], ["output"])]
    y = F.relu(x6.permute(0, 2, 3, 1))
    out["transpose_nhwc_output"] = (onnx_case(nodes, [], s6, y.shape, 13), s6, y)
    Wt = rs.randn(4, 3, 3, 3)
    nodes = [
        helper.make_node("Transpose", ["input"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["t"], ["u"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["u", "W"], ["output"]),
    ]
    y = F.conv2d(x6, torch.tensor(Wt))
    out["transpose_round_trip_conv"] = (onnx_case(nodes, [dbl("W", Wt)], s6, y.shape, 13), s6, y)
    # x.view(-1, n) (a -1 that is the batch) before a MatMul, and a softmax over a flattened image
    Wv = rs.randn(147, 4)
    nodes = [helper.make_node("Reshape", ["input", "shape"], ["f"]), helper.make_node("MatMul", ["f", "W"], ["output"])]
    y = x6.reshape(2, -1) @ torch.tensor(Wv)
    out["reshape_minus1_batch_matmul"] = (onnx_case(nodes, [i64("shape", [-1, 147]), dbl("W", Wv)], s6, y.shape, 13), s6, y)
    nodes = [helper.make_node("Flatten", ["input"], ["f"]), helper.make_node("Softmax", ["f"], ["output"])]
    y = torch.softmax(x6.reshape(2, -1), 1)
    out["flatten_softmax"] = (onnx_case(nodes, [], s6, y.shape, 13), s6, y)
    # a graph whose output is its input: a Dropout alone (ratio and training_mode as inputs)
    node = helper.make_node("Dropout", ["input", "ratio", "training"], ["output"])
    training = helper.make_tensor("training", TensorProto.BOOL, [], [False])
    out["dropout_alone_opset13"] = (onnx_case([node], [dbl("ratio", np.array(0.3)), training], s6, s6, 13), s6, x6)
    return out


def ops():
    import base64
    import io

    cases = {}
    torch.manual_seed(1)
    for name, (module, shape, opset, dynamic) in TORCH_CASES.items():
        module = module.double().eval()
        random_batchnorm(module, 0.5)
        x = torch.tensor(fill("input", int(np.prod(shape)), -1.0, 1.0).reshape(shape)) * 3
        with torch.no_grad():
            y = module(x)
        buf = io.BytesIO()
        torch.onnx.export(
            module, x, buf, opset_version=opset, input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic else None,
        )
        cases[name] = {"onnx": base64.b64encode(buf.getvalue()).decode(), "input": list(shape), "scale": 3, "output": list(y.shape), "y": [float(v) for v in y.reshape(-1)], "opset": opset, "ops": ops_of_bytes(buf.getvalue())}
    for name, (data, shape, y) in hand_cases().items():
        cases[name] = {"onnx": base64.b64encode(data).decode(), "input": list(shape), "scale": 1, "output": list(y.shape), "y": [float(v) for v in y.reshape(-1)], "opset": onnx.load_from_string(data).opset_import[0].version, "ops": ops_of_bytes(data)}
    with open(os.path.join(OUT, "ops.json"), "w") as f:
        json.dump(cases, f, indent=0)
    for name, c in cases.items():
        print(name, c["opset"], c["ops"])


def ops_of_bytes(data):
    return sorted({n.op_type for n in onnx.load_from_string(data).graph.node})


if __name__ == "__main__":
    import sys

    {"ops": ops, "npz": npz}.get(sys.argv[1] if sys.argv[1:] else "", main)()
