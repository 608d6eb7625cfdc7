"""Writes test/fixtures/winograd.json: golden values for 3×3 stride-1 convolutions (the layers Winograd
computes), forward Z and dA_prev, from PyTorch float64 autograd, with inputs and filters scaled by 1e-3, 1
and 1e3; and test/fixtures/winograd5.json: 5×5 stride-1 convolutions forward (F(2×2, 5×5)), the same way.

Run: /usr/bin/python3 scripts/fixtures_winograd.py   (Debian's python3-torch and python3-numpy; the tests
and the library never need Python). Inputs are numpy's legacy RandomState draws, in the order the test
draws them: A_prev, W, b, dZ; A_prev and W are then multiplied by the scale, and so is dZ.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "winograd.json")

SHAPES = [  # m, h, w, c, k, pad
    (1, 5, 5, 1, 1, 1),
    (1, 7, 9, 12, 12, 1),
    (1, 8, 8, 3, 5, 0),
    (2, 11, 6, 17, 9, 2),
    (1, 6, 6, 12, 10, 1),
]
cases = []
seed = 100
for m, h, w, c, k, pad in SHAPES:
    for scale in (1e-3, 1.0, 1e3):
        rs = np.random.RandomState(seed)
        A = rs.randn(m, h, w, c) * scale
        W = rs.randn(3, 3, c, k) * scale
        b = rs.randn(k)
        nH, nW = h + 2 * pad - 2, w + 2 * pad - 2
        dZ = rs.randn(m, nH, nW, k) * scale
        a = torch.tensor(A).permute(0, 3, 1, 2).requires_grad_(True)
        weight = torch.tensor(W).permute(3, 2, 0, 1).contiguous().requires_grad_(True)
        z = F.conv2d(a, weight, torch.tensor(b), stride=1, padding=pad)
        z.backward(torch.tensor(dZ).permute(0, 3, 1, 2))
        cases.append(
            {
                "seed": seed,
                "shape": [m, h, w, c, k],
                "pad": pad,
                "scale": scale,
                "Z": z.detach().permute(0, 2, 3, 1).reshape(-1).tolist(),
                "dA": a.grad.permute(0, 2, 3, 1).reshape(-1).tolist(),
                "dW": weight.grad.permute(2, 3, 1, 0).reshape(-1).tolist(),
            }
        )
        seed += 1
with open(OUT, "w") as f:
    json.dump(cases, f)
print(f"wrote {OUT}: {len(cases)} cases")

# 5×5 stride-1 forward (Winograd F(2×2, 5×5)): test/fixtures/winograd5.json, Z only, the same draws
OUT5 = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "winograd5.json")
SHAPES5 = [  # m, h, w, c, k, pad
    (1, 6, 6, 1, 1, 2),
    (2, 9, 7, 8, 16, 2),
    (1, 8, 10, 17, 9, 0),
    (1, 10, 10, 16, 16, 2),
]
cases5 = []
seed = 300
for m, h, w, c, k, pad in SHAPES5:
    for scale in (1e-3, 1.0, 1e3):
        rs = np.random.RandomState(seed)
        A = rs.randn(m, h, w, c) * scale
        W = rs.randn(5, 5, c, k) * scale
        b = rs.randn(k)
        a = torch.tensor(A).permute(0, 3, 1, 2)
        weight = torch.tensor(W).permute(3, 2, 0, 1).contiguous()
        z = F.conv2d(a, weight, torch.tensor(b), stride=1, padding=pad)
        cases5.append(
            {"seed": seed, "shape": [m, h, w, c, k], "pad": pad, "scale": scale, "Z": z.permute(0, 2, 3, 1).reshape(-1).tolist()}
        )
        seed += 1
with open(OUT5, "w") as f:
    json.dump(cases5, f)
print(f"wrote {OUT5}: {len(cases5)} cases")
