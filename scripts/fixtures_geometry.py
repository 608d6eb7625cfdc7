"""Writes test/fixtures/geometry.json: golden values for every convolution and pooling geometry, from
PyTorch float64 (autograd for the gradients) and, where PyTorch has no such option (asymmetric padding
in pooling), from numpy loops.

Run: /usr/bin/python3 scripts/fixtures_geometry.py   (Debian's python3-torch and python3-numpy; the tests
and the library never need Python). Inputs are numpy's legacy RandomState draws, in the order the
tests draw them: A_prev, W, b, then dZ (conv); A_prev, then dA (pool).
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "geometry.json")


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def padding(pad, n, f, s, d):
    """[top, bottom, left, right] from any of the library's forms ('same' is TensorFlow's rule)."""
    if pad == "valid":
        return [0, 0, 0, 0]
    if pad == "same":
        out = []
        for ax in range(2):
            o = math.ceil(n[ax] / s[ax])
            total = max((o - 1) * s[ax] + (f[ax] - 1) * d[ax] + 1 - n[ax], 0)
            out += [total // 2, total - total // 2]
        return out
    if isinstance(pad, int):
        return [pad] * 4
    if isinstance(pad[0], int):
        return [pad[0], pad[0], pad[1], pad[1]]
    return [pad[0][0], pad[0][1], pad[1][0], pad[1][1]]


def flat(a):
    return [float(x) for x in np.asarray(a).reshape(-1)]


def conv_case(name, seed, a_shape, w_shape, b_shape, hp):
    rs = np.random.RandomState(seed)
    A = rs.randn(*a_shape)
    W = rs.randn(*w_shape)
    b = rs.randn(*b_shape)
    s = pair(hp["stride"])
    d = pair(hp.get("dilation", 1))
    groups = hp.get("groups", 1)
    t, bo, l, r = padding(hp["pad"], a_shape[1:3], w_shape[:2], s, d)
    At = torch.tensor(A).permute(0, 3, 1, 2).requires_grad_(True)  # NCHW
    Wt = torch.tensor(W).permute(3, 2, 0, 1).requires_grad_(True)  # [out, in/groups, fh, fw]
    bt = torch.tensor(b.reshape(-1)).requires_grad_(True)
    Z = F.conv2d(F.pad(At, (l, r, t, bo)), Wt, bt, stride=s, dilation=d, groups=groups)
    Zn = Z.detach().permute(0, 2, 3, 1).numpy()
    dZ = rs.randn(*Zn.shape)
    Z.backward(torch.tensor(dZ).permute(0, 3, 1, 2))
    return {
        "op": "conv",
        "name": name,
        "seed": seed,
        "A": list(a_shape),
        "W": list(w_shape),
        "b": list(b_shape),
        "hp": hp,
        "Z": flat(Zn),
        "Zshape": list(Zn.shape),
        "dA": flat(At.grad.permute(0, 2, 3, 1).numpy()),
        "dW": flat(Wt.grad.permute(2, 3, 1, 0).numpy()),
        "db": flat(bt.grad.numpy()),
    }


def pool_numpy(A, dY, hp, mode):
    """Pooling by loops (the oracle where PyTorch has no such padding): windows clipped to the input."""
    m, H, Wd, C = A.shape
    fh, fw = pair(hp["f"])
    sh, sw = pair(hp["stride"])
    t, bo, l, r = padding(hp.get("pad", 0), (H, Wd), (fh, fw), (sh, sw), (1, 1))
    count_pad = hp.get("count_include_pad", False)
    assert not hp.get("ceil_mode", False)
    nH = (H + t + bo - fh) // sh + 1
    nW = (Wd + l + r - fw) // sw + 1
    Y = np.zeros((m, nH, nW, C))
    dA = np.zeros(A.shape)
    for oh in range(nH):
        for ow in range(nW):
            y0, x0 = oh * sh - t, ow * sw - l
            ys, ye = max(y0, 0), min(y0 + fh, H)
            xs, xe = max(x0, 0), min(x0 + fw, Wd)
            win = A[:, ys:ye, xs:xe, :]
            if mode == "max":
                mx = win.max(axis=(1, 2))
                Y[:, oh, ow, :] = mx
                mask = win == mx[:, None, None, :]
                dA[:, ys:ye, xs:xe, :] += mask * dY[:, oh, ow, :][:, None, None, :]
            else:
                div = (min(y0 + fh, H + bo) - y0) * (min(x0 + fw, Wd + r) - x0) if count_pad else (ye - ys) * (xe - xs)
                Y[:, oh, ow, :] = win.sum(axis=(1, 2)) / div
                dA[:, ys:ye, xs:xe, :] += (dY[:, oh, ow, :] / div)[:, None, None, :]
    return Y, dA


def pool_case(name, seed, a_shape, hp, mode, oracle="torch"):
    rs = np.random.RandomState(seed)
    A = rs.randn(*a_shape)
    if oracle == "numpy":
        # forward first (for the shape of dA), then the gradient with dA drawn next, as the tests do
        m, H, Wd, C = A.shape
        fh, fw = pair(hp["f"])
        sh, sw = pair(hp["stride"])
        t, bo, l, r = padding(hp.get("pad", 0), (H, Wd), (fh, fw), (sh, sw), (1, 1))
        shape = (m, (H + t + bo - fh) // sh + 1, (Wd + l + r - fw) // sw + 1, C)
        dY = rs.randn(*shape)
        Y, dA = pool_numpy(A, dY, hp, mode)
    else:
        fh, fw = pair(hp["f"])
        s = pair(hp["stride"])
        t, bo, l, r = padding(hp.get("pad", 0), a_shape[1:3], (fh, fw), s, (1, 1))
        assert t == bo and l == r, "PyTorch pools pad symmetrically"
        At = torch.tensor(A).permute(0, 3, 1, 2).requires_grad_(True)
        kw = dict(kernel_size=(fh, fw), stride=s, padding=(t, l), ceil_mode=hp.get("ceil_mode", False))
        if mode == "max":
            Yt = F.max_pool2d(At, **kw)
        else:
            Yt = F.avg_pool2d(At, count_include_pad=hp.get("count_include_pad", False), **kw)
        Y = Yt.detach().permute(0, 2, 3, 1).numpy()
        dY = rs.randn(*Y.shape)
        Yt.backward(torch.tensor(dY).permute(0, 3, 1, 2))
        dA = At.grad.permute(0, 2, 3, 1).numpy()
    return {
        "op": "pool",
        "name": name,
        "seed": seed,
        "A": list(a_shape),
        "hp": hp,
        "mode": mode,
        "Y": flat(Y),
        "Yshape": list(Y.shape),
        "dA": flat(dA),
    }


def main():
    cases = [
        conv_case("'same' 4×4 (even window: Keras SIGNS conv1)", 11, (2, 8, 8, 3), (4, 4, 3, 8), (1, 1, 1, 8), {"stride": 1, "pad": "same"}),
        conv_case("'same' 3×3 stride 2", 12, (2, 9, 10, 4), (3, 3, 4, 6), (1, 1, 1, 6), {"stride": 2, "pad": "same"}),
        conv_case("'same' 2×4 window, stride [2,3]", 13, (1, 7, 8, 2), (2, 4, 2, 3), (3,), {"stride": [2, 3], "pad": "same"}),
        conv_case("pad [[1,2],[0,3]], 3×2 window, stride [1,2]", 14, (2, 6, 5, 3), (3, 2, 3, 4), (1, 1, 1, 4), {"stride": [1, 2], "pad": [[1, 2], [0, 3]]}),
        conv_case("dilation 2, 'same'", 15, (1, 10, 9, 3), (3, 3, 3, 5), (1, 1, 1, 5), {"stride": 1, "pad": "same", "dilation": 2}),
        conv_case("dilation [2,3], stride [2,1], pad [1,2]", 16, (2, 11, 12, 2), (3, 2, 2, 4), (4,), {"stride": [2, 1], "pad": [1, 2], "dilation": [2, 3]}),
        conv_case("groups 2", 17, (2, 6, 6, 4), (3, 3, 2, 6), (1, 1, 1, 6), {"stride": 1, "pad": 1, "groups": 2}),
        conv_case("groups 3, 2×3 window, stride [1,2], 'same'", 18, (1, 7, 5, 6), (2, 3, 2, 9), (9,), {"stride": [1, 2], "pad": "same", "groups": 3}),
        conv_case("depthwise 3×3 'same'", 19, (2, 8, 8, 5), (3, 3, 1, 5), (1, 1, 1, 5), {"stride": 1, "pad": "same", "groups": 5}),
        conv_case("depthwise, channel multiplier 2, stride 2", 20, (1, 9, 9, 3), (3, 3, 1, 6), (6,), {"stride": 2, "pad": "same", "groups": 3}),
        conv_case("depthwise, dilation 2", 21, (1, 10, 10, 4), (3, 3, 1, 4), (1, 1, 1, 4), {"stride": 1, "pad": [2, 2], "dilation": 2, "groups": 4}),
        conv_case("'valid', b as [n_C]", 22, (1, 5, 5, 2), (3, 3, 2, 3), (3,), {"stride": 1, "pad": "valid"}),
        pool_case("max 3×3 stride 2 pad 1", 31, (2, 7, 8, 3), {"f": 3, "stride": 2, "pad": 1}, "max"),
        pool_case("average 3×3 stride 2 pad 1", 32, (2, 7, 8, 3), {"f": 3, "stride": 2, "pad": 1}, "average"),
        pool_case("average pad 1, count_include_pad", 33, (2, 7, 8, 3), {"f": 3, "stride": 2, "pad": 1, "count_include_pad": True}, "average"),
        pool_case("max ceil_mode", 34, (1, 8, 8, 2), {"f": 3, "stride": 2, "ceil_mode": True}, "max"),
        pool_case("average ceil_mode, pad 1, count_include_pad", 35, (1, 7, 7, 2), {"f": 3, "stride": 2, "pad": 1, "ceil_mode": True, "count_include_pad": True}, "average"),
        pool_case("average ceil_mode, pad 1", 36, (1, 7, 7, 2), {"f": 3, "stride": 2, "pad": 1, "ceil_mode": True}, "average"),
        pool_case("max f [2,3], stride [2,1], pad [1,1]", 37, (2, 6, 7, 3), {"f": [2, 3], "stride": [2, 1], "pad": [1, 1]}, "max"),
        pool_case("max 'same' f 2 stride 2 (odd input: padding at the bottom and right)", 38, (1, 7, 9, 3), {"f": 2, "stride": 2, "pad": "same"}, "max", "numpy"),
        pool_case("average 'same' 3×3 stride 1", 39, (2, 6, 5, 4), {"f": 3, "stride": 1, "pad": "same"}, "average", "numpy"),
        pool_case("average pad [[0,2],[1,0]], count_include_pad", 40, (1, 6, 6, 2), {"f": 3, "stride": 2, "pad": [[0, 2], [1, 0]], "count_include_pad": True}, "average", "numpy"),
    ]
    with open(OUT, "w") as fh:
        json.dump(cases, fh, separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)} (torch {torch.__version__}, numpy {np.__version__})")


if __name__ == "__main__":
    main()
