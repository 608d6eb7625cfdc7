// The plain-TS kernels are the oracle for the WASM ones, so they are checked against numpy themselves.
import { describe, it } from "vitest";
import { RandomState } from "convwasm";
import * as conv from "convwasm/reference";
import * as pool from "convwasm/reference";
import { decode, expectClose, fixture } from "../helpers.js";

type Out = { A: number[]; dA_prev: number[] };
interface Case {
  op: string;
  seed: number;
  dims: number[];
  Z: number[];
  dA: number[];
  dW: number[];
  db: number[];
  max: Out;
  average: Out;
}

describe("reference kernels against numpy", () => {
  for (const c of fixture<Case[]>("cases.json")) {
    it(`${c.op} dims=[${c.dims}]`, () => {
      const rs = new RandomState(c.seed);
      if (c.op === "conv") {
        const [m, h, w, ch, f, k, stride, pad] = c.dims;
        const A = rs.randn(m, h, w, ch);
        const W = rs.randn(f, f, ch, k);
        const b = rs.randn(1, 1, 1, k);
        const Z = conv.conv_forward(A, W, b, { stride, pad });
        expectClose(Z, decode(c.Z, [...Z.shape]), 1e-12);
        const [dA, dW, db] = conv.conv_backward(rs.randn(...Z.shape), A, W, { stride, pad });
        expectClose(dA, decode(c.dA, [m, h, w, ch]), 1e-12);
        expectClose(dW, decode(c.dW, [f, f, ch, k]), 1e-12);
        expectClose(db, decode(c.db, [1, 1, 1, k]), 1e-12);
      } else {
        const [m, h, w, ch, f, stride] = c.dims;
        const A = rs.randn(m, h, w, ch);
        for (const mode of ["max", "average"] as const) {
          const Y = pool.pool_forward(A, { f, stride }, mode);
          expectClose(Y, decode(c[mode].A, [...Y.shape]), 1e-14);
          expectClose(
            pool.pool_backward(rs.randn(...Y.shape), A, { f, stride }, mode),
            decode(c[mode].dA_prev, [m, h, w, ch]),
            1e-14,
          );
        }
      }
    });
  }
});
