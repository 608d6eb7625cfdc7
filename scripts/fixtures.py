"""Writes test/fixtures/*.json from numpy: the golden values the TypeScript tests check against.

Run: python3 scripts/fixtures.py   (needs numpy; the tests and the library never do)
A correct numpy implementation of the notebook (stride honoured, pad 0 cropping right) is the oracle.
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures")


def zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), "constant", constant_values=(0, 0))


def conv_forward(A_prev, W, b, hp):
    m, H, Wd, C = A_prev.shape
    f, _, _, K = W.shape
    s, p = hp["stride"], hp["pad"]
    nH = (H - f + 2 * p) // s + 1
    nW = (Wd - f + 2 * p) // s + 1
    Z = np.zeros((m, nH, nW, K))
    Ap = zero_pad(A_prev, p)
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                sl = Ap[i, h * s : h * s + f, w * s : w * s + f, :]
                for c in range(K):
                    Z[i, h, w, c] = np.sum(sl * W[:, :, :, c]) + b[0, 0, 0, c]
    return Z


def conv_backward(dZ, A_prev, W, hp):
    m, H, Wd, C = A_prev.shape
    f, _, _, K = W.shape
    s, p = hp["stride"], hp["pad"]
    _, nH, nW, _ = dZ.shape
    dW = np.zeros(W.shape)
    db = np.zeros((1, 1, 1, K))
    Ap = zero_pad(A_prev, p)
    dAp = np.zeros(Ap.shape)
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                vs, hs = h * s, w * s
                for c in range(K):
                    dAp[i, vs : vs + f, hs : hs + f, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += Ap[i, vs : vs + f, hs : hs + f, :] * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    dA = dAp[:, p : p + H, p : p + Wd, :]
    return dA, dW, db


def pool_forward(A_prev, hp, mode):
    m, H, Wd, C = A_prev.shape
    f, s = hp["f"], hp["stride"]
    nH = (H - f) // s + 1
    nW = (Wd - f) // s + 1
    A = np.zeros((m, nH, nW, C))
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                sl = A_prev[i, h * s : h * s + f, w * s : w * s + f, :]
                A[i, h, w, :] = sl.max(axis=(0, 1)) if mode == "max" else sl.mean(axis=(0, 1))
    return A


def pool_backward(dA, A_prev, hp, mode):
    f, s = hp["f"], hp["stride"]
    m, nH, nW, C = dA.shape
    dA_prev = np.zeros(A_prev.shape)
    for i in range(m):
        for h in range(nH):
            for w in range(nW):
                for c in range(C):
                    vs, hs = h * s, w * s
                    if mode == "max":
                        sl = A_prev[i, vs : vs + f, hs : hs + f, c]
                        mask = sl == np.max(sl)
                        dA_prev[i, vs : vs + f, hs : hs + f, c] += np.multiply(mask, dA[i, h, w, c])
                    else:
                        dA_prev[i, vs : vs + f, hs : hs + f, c] += np.ones((f, f)) * (dA[i, h, w, c] / (f * f))
    return dA_prev


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def dump(name, obj):
    with open(os.path.join(OUT, name), "w") as fh:
        json.dump(obj, fh, separators=(",", ":"))
        fh.write("\n")


def randn_fixture():
    out = []
    for seed, n in [(0, 64), (1, 301), (2, 33), (3, 4000), (42, 64), (123456789, 64), (2**32 - 1, 64)]:
        np.random.seed(seed)
        out.append({"seed": seed, "values": flat(np.random.randn(n))})
    return out


def notebook_fixture():
    cells = {}
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    cells["zero_pad"] = {"x_pad": flat(zero_pad(x, 2)), "shape": [4, 7, 7, 2]}
    np.random.seed(1)
    a = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    cells["conv_single_step"] = {"Z": float(np.sum(a * W) + b[0, 0, 0])}
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    hp = {"pad": 2, "stride": 2}
    Z = conv_forward(A_prev, W, b, hp)
    dA, dW, db = conv_backward(Z, A_prev, W, hp)
    cells["conv_forward"] = {"Z": flat(Z), "mean": float(np.mean(Z))}
    cells["conv_backward"] = {
        "dA": flat(dA), "dW": flat(dW), "db": flat(db),
        "meanA": float(np.mean(dA)), "meanW": float(np.mean(dW)), "meanb": float(np.mean(db)),
    }
    np.random.seed(1)
    A_prev = np.random.randn(2, 4, 4, 3)
    hp = {"stride": 2, "f": 3}
    cells["pool_forward"] = {"max": flat(pool_forward(A_prev, hp, "max")), "average": flat(pool_forward(A_prev, hp, "average"))}
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    hp = {"stride": 1, "f": 2}
    dA = np.random.randn(5, 4, 2, 2)
    cells["pool_backward"] = {
        "meandA": float(np.mean(dA)),
        "max": flat(pool_backward(dA, A_prev, hp, "max")),
        "average": flat(pool_backward(dA, A_prev, hp, "average")),
    }
    return cells


def cases_fixture():
    """Random and edge-case shapes; inputs are regenerated in TS from the same seed (RandomState is tested)."""
    conv = [
        # m, h, w, c, f, k, stride, pad
        (1, 1, 1, 1, 1, 1, 1, 0),
        (2, 3, 3, 2, 3, 2, 1, 0),
        (2, 5, 7, 3, 3, 4, 2, 1),
        (1, 4, 6, 1, 2, 3, 3, 0),
        (3, 6, 5, 2, 2, 5, 1, 3),
        (2, 7, 7, 5, 5, 3, 2, 2),
        (1, 2, 2, 4, 4, 2, 1, 1),
        (2, 9, 4, 3, 3, 9, 4, 2),
    ]
    out = []
    for n, (m, h, w, c, f, k, s, p) in enumerate(conv):
        rs = np.random.RandomState(100 + n)
        A = rs.randn(m, h, w, c)
        W = rs.randn(f, f, c, k)
        b = rs.randn(1, 1, 1, k)
        hp = {"stride": s, "pad": p}
        Z = conv_forward(A, W, b, hp)
        dZ = rs.randn(*Z.shape)
        dA, dW, db = conv_backward(dZ, A, W, hp)
        out.append({"op": "conv", "seed": 100 + n, "dims": [m, h, w, c, f, k, s, p],
                    "Z": flat(Z), "dA": flat(dA), "dW": flat(dW), "db": flat(db)})
    pool = [
        # m, h, w, c, f, stride
        (1, 1, 1, 1, 1, 1),
        (2, 4, 4, 3, 3, 2),
        (2, 5, 6, 2, 2, 3),
        (1, 7, 5, 4, 3, 1),
        (3, 4, 4, 1, 4, 1),
    ]
    for n, (m, h, w, c, f, s) in enumerate(pool):
        rs = np.random.RandomState(200 + n)
        A = rs.randn(m, h, w, c)
        hp = {"f": f, "stride": s}
        entry = {"op": "pool", "seed": 200 + n, "dims": [m, h, w, c, f, s]}
        for mode in ("max", "average"):
            Y = pool_forward(A, hp, mode)
            dY = rs.randn(*Y.shape)
            entry[mode] = {"A": flat(Y), "dA_prev": flat(pool_backward(dY, A, hp, mode))}
        out.append(entry)
    return out


def enc(a):
    """Flat list with non-finite values as the strings "nan", "inf", "-inf" (JSON has no NaN)."""
    return [float(v) if np.isfinite(v) else ("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")) for v in np.asarray(a, dtype=np.float64).ravel()]


def nonfinite_fixture():
    """NaN and ±Inf through every op, as numpy propagates them (0 * Inf in the padding is NaN)."""
    rs = np.random.RandomState(300)
    A = rs.randn(1, 3, 3, 2)
    W = rs.randn(2, 2, 2, 2)
    b = rs.randn(1, 1, 1, 2)
    A[0, 1, 1, 0] = np.nan
    W[0, 0, 1, 1] = np.inf
    hp = {"stride": 1, "pad": 1}
    with np.errstate(invalid="ignore", over="ignore"):
        Z = conv_forward(A, W, b, hp)
        dZ = rs.randn(*Z.shape)
        dZ[0, 2, 3, 0] = -np.inf
        dA, dW, db = conv_backward(dZ, A, W, hp)
    conv = {"seed": 300, "A": enc(A), "W": enc(W), "b": enc(b), "dZ": enc(dZ), "dims": [1, 3, 3, 2, 2, 2, 1, 1],
            "Z": enc(Z), "dA": enc(dA), "dW": enc(dW), "db": enc(db)}
    P = np.round(rs.randn(2, 4, 4, 2), 1)  # rounding makes ties
    P[0, 0, 0, 0] = np.nan
    P[1, 2, 2, 1] = np.inf
    P[1, 3, 0, 0] = -np.inf
    hp = {"f": 2, "stride": 2}
    pool = {"A_prev": enc(P), "dims": [2, 4, 4, 2, 2, 2]}
    with np.errstate(invalid="ignore", over="ignore"):
        for mode in ("max", "average"):
            Y = pool_forward(P, hp, mode)
            dY = rs.randn(*Y.shape)
            dY[0, 1, 1, 1] = np.inf
            pool[mode] = {"A": enc(Y), "dA": enc(dY), "dA_prev": enc(pool_backward(dY, P, hp, mode))}
    return {"conv": conv, "pool": pool}


def print_fixture():
    """numpy's str() of arrays, for NDArray.toString()."""
    rs = np.random.RandomState(7)
    arrays = [
        np.array([-0.61490741, -6.7439236, -2.55153897, 1.75698377, 3.56208902, 0.53036437, 5.18531798, 8.75898442]),
        rs.randn(3, 2),
        np.zeros((7, 2)),
        np.array([[0.5, 0.5], [0.5, 0.5]]),
        np.array([1.0, 0.5, -2.0]),
        np.array([1.0, 2.0, 3.0]),
        rs.randn(2, 1, 1, 3),
        rs.randn(3, 2, 2),
        rs.randn(20),
        rs.randn(2, 13) * 100,
        np.array([1e-5, 1.0, 2.5]),
        np.array([1e20, -3.0]),
        np.array([123456.789, 0.1]),
        np.array([np.nan, np.inf, -np.inf, 1.5]),
        np.array([np.nan, 0.0]),
        np.array([0.1000000001, 2.0]),
        np.array([1 / 3, 2 / 3]),
        np.array([-0.0, 0.0]),
        np.array([5.0]),
        np.array([1e-300, 1.0]),
        rs.randn(4, 4) * 1e-6,
        rs.randn(2, 3, 4) * 1e4,
        np.array([[[[1.0]]]]),
        np.array([0.125, 0.375, 2.0000000050000001]),
        np.array([1e16, 1.0]),
        np.array([999999.99999999999, 1]),
        rs.randn(1200),
        rs.randn(30, 40),
        rs.randn(2, 3, 200),
        np.array([3e8, 1.0]) ,
    ]
    return [{"shape": list(a.shape), "data": [None if not np.isfinite(v) else float(v) for v in a.ravel()],
             "special": [("nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")) if not np.isfinite(v) else None for v in a.ravel()],
             "str": str(a)} for a in arrays]


def mean_fixture():
    out = []
    for n in [1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 1280, 4099]:
        rs = np.random.RandomState(n)
        a = rs.randn(n) * 10 ** rs.uniform(-3, 3, n)
        out.append({"seed": n, "values": flat(a), "mean": float(np.mean(a))})
    return out


def dtypes_npz():
    """numpy's own .npz of data as people save it (labels as int64, masks as bool, images as uint8, …) and
    its values as float64 lists: readNpz reads every dtype here widened to float64."""
    import io

    arrays = {
        "X": np.arange(6.0).reshape(2, 3),
        "labels": np.array([3, 1, 4, -1], dtype=np.int64),
        "pixels": np.array([[0, 128], [255, 7]], dtype=np.uint8),
        "mask": np.array([True, False, True]),
        "big_endian": np.array([1.5, -2.25], dtype=">f8"),
        "i1": np.array([-128, 127], dtype=np.int8),
        "i2": np.array([-32768, 5], dtype=np.int16),
        "i4": np.array([-7, 2**31 - 1], dtype=np.int32),
        "u2": np.array([65535], dtype=np.uint16),
        "u4": np.array([2**32 - 1], dtype=np.uint32),
        "u8": np.array([2**53 - 1], dtype=np.uint64),
        "i4_big_endian": np.array([-2, 3], dtype=">i4"),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "scalar": np.int64(42),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with open(os.path.join(OUT, "dtypes.npz"), "wb") as f:
        f.write(buf.getvalue())
    return {k: {"shape": list(np.shape(a)), "values": [float(v) for v in np.asarray(a).reshape(-1)], "dtype": np.asarray(a).dtype.str} for k, a in arrays.items()}


if __name__ == "__main__":
    import sys

    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1:] == ["npz"]:
        dump("dtypes.json", dtypes_npz())
        sys.exit(0)
    dump("randn.json", randn_fixture())
    dump("notebook.json", notebook_fixture())
    dump("cases.json", cases_fixture())
    dump("print.json", print_fixture())
    dump("mean.json", mean_fixture())
    dump("nonfinite.json", nonfinite_fixture())
    dump("dtypes.json", dtypes_npz())
    print("numpy", np.__version__)
