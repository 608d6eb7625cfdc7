// Every bad input is a TypeError or RangeError whose message starts with the function's name and says
// what was expected and what came; no error leaves arena memory in use, and the library keeps working.
import { afterEach, describe, expect, it } from "vitest";
import {
  NDArray,
  array,
  init,
  memory,
  zero_pad,
  conv_single_step,
  conv_forward,
  conv_backward,
  pool_forward,
  pool_backward,
  create_mask_from_window,
  distribute_value,
  type ConvCache,
} from "convwasm";
import { randn } from "./helpers.js";

await init();

const A = randn(1, 10, 4, 4, 3);
const W = randn(2, 2, 2, 3, 8);
const b = randn(3, 1, 1, 1, 8);
const hp = { stride: 2, pad: 2 };
const [Z, convCache] = conv_forward(A, W, b, hp);
const P = randn(4, 2, 4, 4, 3);
const [Y, poolCache] = pool_forward(P, { f: 3, stride: 2 });

// callers in JavaScript can pass anything: the checks must hold without the type checker
const any = <T>(x: unknown) => x as T;

afterEach(() => {
  expect(memory().arenaBytesInUse).toBe(0);
  // the library still works after the error
  expect(conv_forward(A, W, b, hp)[0].toFloat64Array()).toEqual(Z.toFloat64Array());
});

function rejects(call: () => unknown, type: typeof TypeError | typeof RangeError, message: string | RegExp): void {
  expect(call).toThrow(type);
  expect(call).toThrow(message);
}

describe("conv_forward rejects", () => {
  it("A_prev of the wrong rank", () =>
    rejects(
      () => conv_forward(randn(1, 4, 4, 3), W, b, hp),
      RangeError,
      "conv_forward: A_prev expects 4 dimensions (m, n_H_prev, n_W_prev, n_C_prev) but got shape [4,4,3]",
    ));
  it("A_prev that is not an NDArray", () =>
    rejects(
      () => conv_forward(any([[1]]), W, b, hp),
      TypeError,
      "conv_forward: A_prev expects an NDArray of shape (m, n_H_prev, n_W_prev, n_C_prev) but got a plain array of length 1",
    ));
  it("a channel mismatch between A_prev and W", () =>
    rejects(
      () => conv_forward(A, randn(5, 2, 2, 4, 8), b, hp),
      RangeError,
      "conv_forward: W expects 4 input channels but A_prev has 3 (A_prev [10,4,4,3], W [2,2,4,8])",
    ));
  it("b of the wrong shape", () => {
    rejects(
      () => conv_forward(A, W, randn(6, 1, 1, 1, 7), hp),
      RangeError,
      "conv_forward: b expects shape [1,1,1,8] or [8] for W [2,2,3,8] but got [1,1,1,7]",
    );
    rejects(
      () => conv_forward(A, W, randn(6, 1, 8), hp),
      RangeError,
      "conv_forward: b expects shape [1,1,1,8] or [8] for W [2,2,3,8] but got [1,8]",
    );
  });
  it("groups that do not divide the channels, or W not sized for them", () => {
    const A6 = randn(7, 1, 5, 5, 6);
    rejects(
      () => conv_forward(A6, randn(8, 3, 3, 2, 8), b, { stride: 1, pad: 1, groups: 4 }),
      RangeError,
      "conv_forward: hparameters.groups expects a divisor of n_C_prev (6) and n_C (8) but got 4",
    );
    rejects(
      () => conv_forward(A6, randn(8, 3, 3, 6, 8), b, { stride: 1, pad: 1, groups: 2 }),
      RangeError,
      "conv_forward: W expects n_C_prev / groups = 3 input channels (A_prev has 6 in 2 groups) but has 6",
    );
    rejects(
      () => conv_forward(A6, randn(8, 3, 3, 3, 8), b, { stride: 1, pad: 1, groups: 0 }),
      RangeError,
      "conv_forward: hparameters.groups expects an integer >= 1 but got number 0",
    );
  });
  it("stride, pad and dilation in none of their forms", () => {
    rejects(
      () => conv_forward(A, W, b, { stride: [1] as never, pad: 1 }),
      RangeError,
      "conv_forward: hparameters.stride expects an integer >= 1 or [height, width] of them but got [1]",
    );
    rejects(
      () => conv_forward(A, W, b, { stride: 1, pad: "full" as never }),
      RangeError,
      'conv_forward: hparameters.pad expects an integer >= 0, [height, width], [[top, bottom], [left, right]], "same" or "valid" but got string full',
    );
    rejects(
      () =>
        conv_forward(A, W, b, {
          stride: 1,
          pad: [
            [1, -1],
            [0, 0],
          ],
        }),
      RangeError,
      "conv_forward: hparameters.pad[0] ([top, bottom]) expects an integer >= 0 or [height, width] of them but got [1,-1]",
    );
    rejects(
      () => conv_forward(A, W, b, { stride: 1, pad: 0, dilation: [1, 0] }),
      RangeError,
      "conv_forward: hparameters.dilation expects an integer >= 1 or [height, width] of them but got [1,0]",
    );
    rejects(
      () => conv_forward(A, W, b, { stride: 1, pad: 0, dilation: 4 }),
      RangeError,
      "conv_forward: the 2×2 window (5×5 dilated) is larger than the padded input 4×4 (A_prev [10,4,4,3], pad 0)",
    );
  });
  it("stride that is not an integer >= 1", () => {
    rejects(
      () => conv_forward(A, W, b, { stride: 0, pad: 1 }),
      RangeError,
      "conv_forward: hparameters.stride expects an integer >= 1 but got number 0",
    );
    rejects(
      () => conv_forward(A, W, b, { stride: 1.5, pad: 1 }),
      RangeError,
      "hparameters.stride expects an integer >= 1 but got number 1.5",
    );
    rejects(() => conv_forward(A, W, b, any({ stride: "2", pad: 1 })), RangeError, "but got string 2");
    rejects(() => conv_forward(A, W, b, { stride: NaN, pad: 1 }), RangeError, "but got number NaN");
  });
  it("pad that is not an integer >= 0", () => {
    rejects(
      () => conv_forward(A, W, b, { stride: 1, pad: -1 }),
      RangeError,
      "conv_forward: hparameters.pad expects an integer >= 0 but got number -1",
    );
    rejects(() => conv_forward(A, W, b, { stride: 1, pad: Infinity }), RangeError, "but got number Infinity");
  });
  it("a missing hparameters key, or no hparameters", () => {
    rejects(
      () => conv_forward(A, W, b, any({ stride: 1 })),
      TypeError,
      'conv_forward: hparameters is missing "pad" (got keys ["stride"])',
    );
    rejects(
      () => conv_forward(A, W, b, any(undefined)),
      TypeError,
      'conv_forward: hparameters expects an object with "stride" but got undefined undefined',
    );
  });
  it("a window larger than the padded input", () =>
    rejects(
      () => conv_forward(randn(1, 1, 2, 2, 3), randn(2, 5, 5, 3, 1), randn(3, 1, 1, 1, 1), { stride: 1, pad: 1 }),
      RangeError,
      "conv_forward: the 5×5 window is larger than the padded input 4×4 (A_prev [1,2,2,3], pad 1)",
    ));
  it("an axis of size 0 in W", () =>
    rejects(
      () => conv_forward(A, new NDArray(new Float64Array(0), [2, 2, 3, 0]), b, hp),
      RangeError,
      "conv_forward: W expects n_C >= 1 but got shape [2,2,3,0]",
    ));
});

describe("conv_backward rejects", () => {
  it("dZ whose shape does not match the cache", () =>
    rejects(
      () => conv_backward(randn(7, 10, 4, 4, 7), convCache),
      RangeError,
      "conv_backward: dZ expects shape [10,4,4,8] (the shape of conv_forward's Z) but got [10,4,4,7]",
    ));
  it("a cache that is not conv_forward's", () => {
    rejects(
      () => conv_backward(Z, any(poolCache)),
      TypeError,
      "conv_backward: cache expects the 4-element cache returned by conv_forward but got a plain array of length 2",
    );
    rejects(
      () => conv_backward(Z, any(null)),
      TypeError,
      "conv_backward: cache expects the 4-element cache returned by conv_forward but got null",
    );
  });
  it("a cache whose entries were tampered with", () => {
    const bad = [A, randn(9, 2, 2, 4, 8), b, hp] as ConvCache;
    rejects(() => conv_backward(Z, bad), RangeError, "conv_backward: W expects 4 input channels but A_prev has 3");
    rejects(
      () => conv_backward(Z, [A, W, b, any({ stride: 2 })]),
      TypeError,
      'conv_backward: hparameters is missing "pad"',
    );
  });
});

describe("pool_forward / pool_backward reject", () => {
  it("an unknown mode (the notebook silently returned zeros)", () => {
    rejects(
      () => pool_forward(P, { f: 2, stride: 2 }, any("min")),
      RangeError,
      'pool_forward: mode expects "max" or "average" but got "min"',
    );
    rejects(
      () => pool_backward(Y, poolCache, any("avg")),
      RangeError,
      'pool_backward: mode expects "max" or "average" but got "avg"',
    );
  });
  it("f or stride that is not an integer >= 1, or missing", () => {
    rejects(
      () => pool_forward(P, { f: 0, stride: 1 }),
      RangeError,
      "pool_forward: hparameters.f expects an integer >= 1 but got number 0",
    );
    rejects(
      () => pool_forward(P, { f: 2, stride: -2 }),
      RangeError,
      "pool_forward: hparameters.stride expects an integer >= 1 but got number -2",
    );
    rejects(() => pool_forward(P, any({ f: 2 })), TypeError, 'pool_forward: hparameters is missing "stride"');
  });
  it("a window larger than the input", () =>
    rejects(
      () => pool_forward(P, { f: 5, stride: 1 }),
      RangeError,
      "pool_forward: the 5×5 window is larger than the input 4×4 (A_prev [2,4,4,3])",
    ));
  it("A_prev of the wrong rank", () =>
    rejects(
      () => pool_forward(randn(1, 4, 4), { f: 2, stride: 1 }),
      RangeError,
      "pool_forward: A_prev expects 4 dimensions (m, n_H_prev, n_W_prev, n_C_prev) but got shape [4,4]",
    ));
  it("dA whose shape does not match the cache", () =>
    rejects(
      () => pool_backward(randn(8, 2, 2, 1, 3), poolCache),
      RangeError,
      "pool_backward: dA expects shape [2,1,1,3] (the shape of pool_forward's A) but got [2,2,1,3]",
    ));
  it("a cache that is not pool_forward's", () =>
    rejects(
      () => pool_backward(Y, any(convCache)),
      TypeError,
      "pool_backward: cache expects the 2-element cache returned by pool_forward but got a plain array of length 4",
    ));
});

describe("the other functions reject", () => {
  it("zero_pad: bad pad or X", () => {
    rejects(() => zero_pad(A, -1), RangeError, "zero_pad: pad expects an integer >= 0 but got number -1");
    rejects(() => zero_pad(A, 0.5), RangeError, "zero_pad: pad expects an integer >= 0 but got number 0.5");
    rejects(
      () => zero_pad(randn(1, 3, 3), 1),
      RangeError,
      "zero_pad: X expects 4 dimensions (m, n_H, n_W, n_C) but got shape [3,3]",
    );
  });
  it("conv_single_step: mismatched shapes or bias", () => {
    rejects(
      () => conv_single_step(randn(1, 2, 2, 3), randn(2, 2, 2, 2), 0),
      RangeError,
      "conv_single_step: W expects the shape of a_slice_prev [2,2,3] but got [2,2,2]",
    );
    rejects(
      () => conv_single_step(randn(1, 2, 2, 3), randn(2, 2, 2, 3), randn(3, 2)),
      TypeError,
      "conv_single_step: b expects a number or a one-element array such as [1,1,1] but got an array of shape [2]",
    );
  });
  it("create_mask_from_window: not an array, or empty", () => {
    rejects(
      () => create_mask_from_window(any([1, 2])),
      TypeError,
      "create_mask_from_window: x expects an NDArray but got [1,2]",
    );
    rejects(
      () => create_mask_from_window(array(new Float64Array(0), [0])),
      RangeError,
      "create_mask_from_window: x expects at least one element but got shape [0]",
    );
  });
  it("distribute_value: bad dz or shape", () => {
    rejects(
      () => distribute_value(any("2"), [2, 2]),
      TypeError,
      "distribute_value: dz expects a number but got string",
    );
    rejects(
      () => distribute_value(2, [2, 2, 2]),
      RangeError,
      "distribute_value: shape expects [n_H, n_W] but got [2,2,2]",
    );
    rejects(
      () => distribute_value(2, [0, 2]),
      RangeError,
      "distribute_value: shape[0] (n_H) expects an integer >= 1 but got number 0",
    );
  });
  it("data whose length does not match the shape, and non-finite shape entries", () => {
    rejects(() => array(new Float64Array(5), [2, 3]), RangeError, "array: data has 5 elements but shape [2,3] needs 6");
    rejects(
      () => array(new Float64Array(5), [5, Infinity]),
      RangeError,
      "array: shape expects integers >= 0 but got [5,Infinity]",
    );
    rejects(
      () => new NDArray(new Float64Array(5), [NaN]),
      RangeError,
      "NDArray: shape expects integers >= 0 but got [NaN]",
    );
  });
});
