"""Writes a PyTorch sequential network's weights as convwasm's .npz, for sequential() with the same layers.

    /usr/bin/python3 scripts/torch_to_npz.py model.pt out.npz [C H W]

`model.pt` is a torch.save()d nn.Sequential (or a module whose children run in order); C H W, the input's
shape (NCHW, without the batch), is needed when a Linear reads a Flatten of an image. The recipe per layer
kind, which test/onnx.test.ts checks against the same network's PyTorch outputs:

- Conv2d weight [k, c/g, fh, fw] -> "conv2d_i/W" [fh, fw, c/g, k]: W.transpose(2, 3, 1, 0); bias as it is.
- Linear weight [n_out, n_in] -> "dense_i/W" [n_in, n_out]: W.T; but the first Linear after a Flatten of an
  image [c, h, w] reads NCHW order while convwasm flattens NHWC, so its rows are permuted:
  W.reshape(n_out, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, n_out).
- BatchNorm2d -> "batchNorm_i/gamma", "beta", "moving_mean", "moving_variance".
Layers without weights (ReLU, pooling, Flatten, Dropout, Softmax) only count in the names' order.
"""
import sys

import numpy as np
import torch
import torch.nn as nn


def convert(model, chw=None):
    arrays = {}
    counts = {}
    shape = list(chw) if chw else None  # the current value's [c, h, w] (NCHW), or [n] after a Flatten
    flattened_image = None

    def name(kind):
        i = counts.get(kind, 0)
        counts[kind] = i + 1
        return kind if i == 0 else f"{kind}_{i}"

    x = torch.zeros(1, *chw, dtype=torch.float64) if chw else None
    for layer in model.children() if len(list(model.children())) else [model]:
        if isinstance(layer, nn.Conv2d):
            n = name("conv2d")
            arrays[f"{n}/W"] = layer.weight.detach().double().numpy().transpose(2, 3, 1, 0)
            if layer.bias is not None:
                arrays[f"{n}/b"] = layer.bias.detach().double().numpy()
        elif isinstance(layer, nn.Linear):
            n = name("dense")
            W = layer.weight.detach().double().numpy()
            if flattened_image is not None:
                c, h, w = flattened_image
                W = W.reshape(W.shape[0], c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, W.shape[0])
                flattened_image = None
            else:
                W = W.T
            arrays[f"{n}/W"] = np.ascontiguousarray(W)
            if layer.bias is not None:
                arrays[f"{n}/b"] = layer.bias.detach().double().numpy()
        elif isinstance(layer, nn.BatchNorm2d):
            n = name("batchNorm")
            arrays[f"{n}/gamma"] = layer.weight.detach().double().numpy()
            arrays[f"{n}/beta"] = layer.bias.detach().double().numpy()
            arrays[f"{n}/moving_mean"] = layer.running_mean.double().numpy()
            arrays[f"{n}/moving_variance"] = layer.running_var.double().numpy()
        elif isinstance(layer, nn.Flatten):
            name("flatten")
            if x is not None and x.dim() == 4 and x.shape[2] * x.shape[3] > 1:
                flattened_image = tuple(x.shape[1:])
        if x is not None:
            with torch.no_grad():
                x = layer.double()(x)
    return {k: np.ascontiguousarray(v) for k, v in arrays.items()}


if __name__ == "__main__":
    model = torch.load(sys.argv[1])
    chw = tuple(int(v) for v in sys.argv[3:6]) if len(sys.argv) >= 6 else None
    np.savez(sys.argv[2], **convert(model, chw))
