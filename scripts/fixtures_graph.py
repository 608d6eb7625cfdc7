"""Writes test/fixtures/graph.json: golden values from PyTorch float64 autograd for the layers of ResNet and
MobileNet (BatchNorm in training and inference, the activations, multiply, global pooling) and three SGD
steps of a ResNet-block network and of a MobileNetV2-block network (losses, every weight and running
statistic after them, and the trained network's inference outputs).

Run: /usr/bin/python3 scripts/fixtures_graph.py   (Debian's python3-torch). Inputs and weights are numpy
RandomState draws stored in the fixture, in convwasm's layouts (NHWC images, conv kernels [fh, fw, c/g, k],
dense [n, k]) under the names convwasm's model gives them.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "graph.json")


def flat(a):
    return [float(x) for x in np.asarray(a.detach() if torch.is_tensor(a) else a).reshape(-1)]


def nchw(x):
    return torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def ops():
    out = {}
    rs = np.random.RandomState(7)
    acts = {
        "relu6": (lambda z: F.relu6(z), {}, 4.0),
        "clip": (lambda z: torch.clamp(z, -1.0, 2.0), {"min": -1.0, "max": 2.0}, 2.0),
        "leaky_relu": (lambda z: F.leaky_relu(z, 0.1), {"alpha": 0.1}, 2.0),
        "sigmoid": (torch.sigmoid, {}, 3.0),
        # (F.hardsigmoid's backward multiplies by the float32 constant 1.0f / 6.0f, 3e-8 off: its definition instead)
        "hard_sigmoid": (lambda z: torch.clamp(z / 6 + 0.5, 0.0, 1.0), {}, 4.0),
        "hard_swish": (F.hardswish, {}, 4.0),
        "swish": (F.silu, {}, 3.0),
    }
    for name, (f, options, scale) in acts.items():
        Z = rs.randn(2, 3, 4, 5) * scale
        dA = rs.randn(2, 3, 4, 5)
        z = torch.tensor(Z, requires_grad=True)
        A = f(z)
        A.backward(torch.tensor(dA))
        out[name] = {"options": options, "shape": [2, 3, 4, 5], "Z": flat(Z), "dA": flat(dA), "A": flat(A), "dZ": flat(z.grad)}

    # BatchNorm over NHWC channels, training (batch statistics) and inference (running statistics)
    X = rs.randn(4, 3, 3, 5) * 2 + 1
    gamma, beta, dY = rs.randn(5), rs.randn(5), rs.randn(4, 3, 3, 5)
    rm, rv = rs.randn(5) * 0.3, 0.5 + rs.random_sample(5)
    for mode in ["train", "eval"]:
        x = torch.tensor(np.ascontiguousarray(X.transpose(0, 3, 1, 2)), requires_grad=True)
        g = torch.tensor(gamma, requires_grad=True)
        b = torch.tensor(beta, requires_grad=True)
        m, v = torch.tensor(rm), torch.tensor(rv)
        y = F.batch_norm(x, m, v, g, b, training=mode == "train", momentum=0.1, eps=1e-5)
        y.backward(nchw(dY))
        out[f"batch_norm_{mode}"] = {
            "X": flat(X), "shape": [4, 3, 3, 5], "gamma": flat(gamma), "beta": flat(beta), "dY": flat(dY),
            "mean": flat(rm), "variance": flat(rv),
            "Y": flat(nhwc(y)), "dX": flat(nhwc(x.grad)), "dgamma": flat(g.grad), "dbeta": flat(b.grad),
            "running_mean": flat(m), "running_var": flat(v),
        }

    # a channel gate, global pooling
    X, S, dY = rs.randn(2, 3, 4, 5), rs.randn(2, 5), rs.randn(2, 3, 4, 5)
    x = torch.tensor(X, requires_grad=True)
    s = torch.tensor(S, requires_grad=True)
    y = x * s[:, None, None, :]
    y.backward(torch.tensor(dY))
    out["multiply"] = {"X": flat(X), "S": flat(S), "dY": flat(dY), "Y": flat(y), "dX": flat(x.grad), "dS": flat(s.grad)}
    A, dY = rs.randn(2, 3, 4, 5), rs.randn(2, 5)
    for name, f in [("global_avg_pool", lambda a: a.mean(dim=(1, 2))), ("global_max_pool", lambda a: a.amax(dim=(1, 2)))]:
        a = torch.tensor(A, requires_grad=True)
        y = f(a)
        y.backward(torch.tensor(dY))
        out[name] = {"A": flat(A), "dY": flat(dY), "Y": flat(y), "dA": flat(a.grad)}
    return out


class Net:
    """A network written once for PyTorch, its parameters made in convwasm's layouts and names."""

    def __init__(self, rs):
        self.rs = rs
        self.counts = {}
        self.params = {}  # name -> numpy array in convwasm's layout
        self.kinds = {}  # name -> "conv" | "dense" | "bn"
        self.tensors = {}

    def name(self, kind):
        n = self.counts.get(kind, 0)
        self.counts[kind] = n + 1
        return kind if n == 0 else f"{kind}_{n}"

    def conv(self, c, k, f, groups=1, kind="conv2d"):
        name = self.name(kind)
        self.params[f"{name}/W"] = self.rs.randn(f, f, c // groups, k) * np.sqrt(2 / (f * f * c / groups))
        return name

    def bn(self, c):
        name = self.name("batchNorm")
        self.params[f"{name}/gamma"] = 1 + 0.2 * self.rs.randn(c)
        self.params[f"{name}/beta"] = 0.2 * self.rs.randn(c)
        self.params[f"{name}/moving_mean"] = 0.1 * self.rs.randn(c)
        self.params[f"{name}/moving_variance"] = 0.8 + 0.4 * self.rs.random_sample(c)
        return name

    def dense(self, n, k):
        name = self.name("dense")
        self.params[f"{name}/W"] = self.rs.randn(n, k) * np.sqrt(1 / n)
        self.params[f"{name}/b"] = 0.1 * self.rs.randn(k)
        return name

    def torch_params(self):
        self.tensors = {}
        for key, a in self.params.items():
            t = torch.tensor(a)
            if key.endswith("/W") and a.ndim == 4:
                t = t.permute(3, 2, 0, 1).contiguous()  # [fh, fw, c, k] -> [k, c, fh, fw]
            elif key.endswith("/W"):
                t = t.t().contiguous()
            stat = key.endswith("moving_mean") or key.endswith("moving_variance")
            self.tensors[key] = t if stat else t.requires_grad_(True)
        return self.tensors

    def weights_out(self):
        out = {}
        for key, t in self.tensors.items():
            a = t.detach()
            if key.endswith("/W") and a.ndim == 4:
                a = a.permute(2, 3, 1, 0)
            elif key.endswith("/W"):
                a = a.t()
            out[key] = flat(a)
        return out


def run(net, forward, X, labels, sgd):
    """Three SGD steps in training mode, then the inference outputs."""
    T = net.torch_params()
    trainable = [t for k, t in T.items() if t.requires_grad]
    groups = [
        {"params": [t for k, t in T.items() if t.requires_grad and k.endswith("/W")], "weight_decay": sgd["weightDecay"]},
        {"params": [t for k, t in T.items() if t.requires_grad and not k.endswith("/W")], "weight_decay": 0.0},
    ]
    opt = torch.optim.SGD(groups, lr=sgd["lr"], momentum=sgd["momentum"], nesterov=sgd["nesterov"])
    x = nchw(X)
    y = torch.tensor(labels)
    losses = []
    start = {k: flat(v) for k, v in net.params.items()}
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(forward(T, x, True), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert len(trainable) > 0
    with torch.no_grad():
        P = F.softmax(forward(T, x, False), dim=1)
    return {
        "X": flat(X), "shape": list(X.shape), "labels": [int(v) for v in labels], "sgd": sgd,
        "start": start, "shapes": {k: list(v.shape) for k, v in net.params.items()},
        "losses": losses, "after": net.weights_out(), "predict": flat(P),
    }


def bn(T, name, x, training):
    return F.batch_norm(x, T[f"{name}/moving_mean"], T[f"{name}/moving_variance"], T[f"{name}/gamma"], T[f"{name}/beta"],
                        training=training, momentum=0.1, eps=1e-5)


def resnet(rs):
    """stem conv3x3 (no bias) + BN + ReLU; an identity block; a convolutional block (stride 2, 1x1 shortcut);
    global average pool; dense 10. Names in the order convwasm's functional test makes the nodes."""
    net = Net(rs)
    c0, b0 = net.conv(3, 4, 3), net.bn(4)
    c1, b1, c2, b2 = net.conv(4, 4, 3), net.bn(4), net.conv(4, 4, 3), net.bn(4)
    c3, b3, c4, b4 = net.conv(4, 6, 3), net.bn(6), net.conv(6, 6, 3), net.bn(6)
    c5, b5 = net.conv(4, 6, 1), net.bn(6)
    d = net.dense(6, 10)

    def forward(T, x, training):
        conv = lambda n, v, s=1, p=1: F.conv2d(v, T[f"{n}/W"], stride=s, padding=p)
        h = F.relu(bn(T, b0, conv(c0, x), training))
        a = F.relu(bn(T, b1, conv(c1, h), training))
        h = F.relu(bn(T, b2, conv(c2, a), training) + h)
        a = F.relu(bn(T, b3, conv(c3, h, 2), training))
        h = F.relu(bn(T, b4, conv(c4, a), training) + bn(T, b5, conv(c5, h, 2, 0), training))
        return F.linear(h.mean(dim=(2, 3)), T[f"{d}/W"], T[f"{d}/b"])

    X = rs.randn(4, 8, 8, 3)
    labels = rs.randint(0, 10, size=4)
    return run(net, forward, X, labels, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weightDecay": 5e-4})


def mobilenet(rs):
    """Two MobileNetV2 blocks (expand 1x1 -> depthwise 3x3 -> ReLU6 -> project 1x1, BN after each), the first
    with the residual, the second stride 2; global average pool; dense 10."""
    net = Net(rs)
    e1, be1 = net.conv(4, 12, 1), net.bn(12)
    d1, bd1 = net.conv(12, 12, 3, groups=12, kind="depthwiseConv2d"), net.bn(12)
    p1, bp1 = net.conv(12, 4, 1), net.bn(4)
    e2, be2 = net.conv(4, 12, 1), net.bn(12)
    d2, bd2 = net.conv(12, 12, 3, groups=12, kind="depthwiseConv2d"), net.bn(12)
    p2, bp2 = net.conv(12, 8, 1), net.bn(8)
    d = net.dense(8, 10)

    def forward(T, x, training):
        def block(v, e, be, dw, bd, p, bp, stride):
            h = F.relu6(bn(T, be, F.conv2d(v, T[f"{e}/W"]), training))
            h = F.relu6(bn(T, bd, F.conv2d(h, T[f"{dw}/W"], stride=stride, padding=1, groups=h.shape[1]), training))
            return bn(T, bp, F.conv2d(h, T[f"{p}/W"]), training)

        h = x + block(x, e1, be1, d1, bd1, p1, bp1, 1)
        h = block(h, e2, be2, d2, bd2, p2, bp2, 2)
        return F.linear(h.mean(dim=(2, 3)), T[f"{d}/W"], T[f"{d}/b"])

    X = rs.randn(4, 8, 8, 4)
    labels = rs.randint(0, 10, size=4)
    return run(net, forward, X, labels, {"lr": 0.1, "momentum": 0.9, "nesterov": False, "weightDecay": 0.0})


def main():
    out = {"ops": ops(), "resnet": resnet(np.random.RandomState(11)), "mobilenet": mobilenet(np.random.RandomState(12))}
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
