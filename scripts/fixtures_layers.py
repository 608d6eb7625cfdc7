"""Writes test/fixtures/layers.json: golden values for relu, dense, softmax and softmax cross-entropy from
PyTorch float64 autograd, and numpy's view-or-copy decisions for reshape.

Run: /usr/bin/python3 scripts/fixtures_layers.py   (Debian's python3-torch and python3-numpy). Inputs are
numpy's legacy RandomState draws, in the order the tests draw them.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "layers.json")


def flat(a):
    return [float(x) for x in np.asarray(a).reshape(-1)]


def grad_of(fn, *arrays):
    ts = [torch.tensor(a).requires_grad_(True) for a in arrays]
    return ts, fn(*ts)


def main():
    out = {}
    # relu: Z then dA
    rs = np.random.RandomState(41)
    Z = rs.randn(3, 4, 5)
    Z[0, 0, :2] = 0.0
    dA = rs.randn(3, 4, 5)
    (zt,), A = grad_of(F.relu, Z)
    A.backward(torch.tensor(dA))
    out["relu"] = {"seed": 41, "shape": [3, 4, 5], "zeros": 2, "A": flat(A.detach()), "dZ": flat(zt.grad)}

    # dense: X, W, b, then dZ
    for name, seed, (m, n, k), bshape in [("dense", 42, (7, 13, 9), (9,)), ("dense_row_bias", 43, (33, 20, 11), (1, 11))]:
        rs = np.random.RandomState(seed)
        X, W, b = rs.randn(m, n), rs.randn(n, k), rs.randn(*bshape)
        (xt, wt, bt), Zt = grad_of(lambda x, w, b_: x @ w + b_.reshape(-1), X, W, b)
        dZ = rs.randn(m, k)
        Zt.backward(torch.tensor(dZ))
        out[name] = {
            "seed": seed, "X": [m, n], "W": [n, k], "b": list(bshape),
            "Z": flat(Zt.detach()), "dX": flat(xt.grad), "dW": flat(wt.grad), "db": flat(bt.grad),
        }

    # softmax over the last axis, with large logits
    rs = np.random.RandomState(44)
    Z = rs.randn(2, 3, 10) * 30
    out["softmax"] = {"seed": 44, "shape": [2, 3, 10], "scale": 30, "Y": flat(F.softmax(torch.tensor(Z), dim=-1))}

    # cross-entropy: Z, then labels (as integers drawn by randint) / a target distribution
    rs = np.random.RandomState(45)
    Z = rs.randn(6, 10) * 4
    labels = rs.randint(0, 10, size=6)
    (zt,), L = grad_of(lambda z: F.cross_entropy(z, torch.tensor(labels)), Z)
    L.backward()
    out["cross_entropy"] = {"seed": 45, "shape": [6, 10], "scale": 4, "labels": [int(v) for v in labels], "loss": float(L), "dZ": flat(zt.grad)}
    rs = np.random.RandomState(46)
    Z = rs.randn(5, 4)
    T = np.abs(rs.randn(5, 4))
    T = T / T.sum(axis=1, keepdims=True)
    (zt,), L = grad_of(lambda z: F.cross_entropy(z, torch.tensor(T)), Z)
    L.backward()
    out["cross_entropy_soft"] = {"seed": 46, "shape": [5, 4], "loss": float(L), "dZ": flat(zt.grad)}

    # reshape: does numpy give a view (shares memory) for these?
    base = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    views = {
        "contiguous to [6,20]": (base, (6, 20)),
        "transposed to [120]": (base.transpose(0, 3, 1, 2), (120,)),
        "transposed, first two axes merged": (base.transpose(1, 0, 2, 3), (6, 20)),
        "every other column, rows merged": (base[:, :, :, ::2], (6, 4, 3)),
        "every other column to [-1]": (base[:, :, :, ::2], (72,)),
        "a picked image split": (base[1], (3, 2, 10)),
    }
    out["reshape"] = [
        {"name": name, "shape": list(a.shape), "strides": [s // 8 for s in a.strides], "to": list(to), "view": bool(np.shares_memory(a.reshape(to), base))}
        for name, (a, to) in views.items()
    ]
    out["sgd"] = sgd_steps()
    with open(OUT, "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
    print(f"wrote {os.path.normpath(OUT)} (torch {torch.__version__}, numpy {np.__version__})")



def sgd_steps():
    """A few SGD (momentum) steps of a small ConvNet from weights drawn by RandomState, in PyTorch float64:
    conv 3×3×4 'same' → relu → maxpool 2 → flatten (NHWC order) → dense 3 → softmax, the whole batch each step."""
    rs = np.random.RandomState(47)
    X = rs.randn(6, 8, 8, 1)
    labels = [0, 1, 2, 0, 1, 2]
    W1 = rs.randn(3, 3, 1, 4) * 0.5
    b1 = rs.randn(4) * 0.1
    W2 = rs.randn(64, 3) * 0.1
    b2 = rs.randn(3) * 0.1
    params = [torch.tensor(a).requires_grad_(True) for a in (W1, b1, W2, b2)]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    Xt = torch.tensor(X).permute(0, 3, 1, 2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        z = F.conv2d(F.pad(Xt, (1, 1, 1, 1)), params[0].permute(3, 2, 0, 1), params[1])
        a = F.max_pool2d(F.relu(z), 2)
        feats = a.permute(0, 2, 3, 1).reshape(6, -1)
        logits = feats @ params[2] + params[3]
        loss = F.cross_entropy(logits, torch.tensor(labels))
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return {"seed": 47, "labels": labels, "losses": losses, "weights": {n: flat(p.detach()) for n, p in zip(["conv2d/W", "conv2d/b", "dense/W", "dense/b"], params)}}


if __name__ == "__main__":
    main()
