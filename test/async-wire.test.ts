// convwasm/async's wire: the library's own batch buffers are lent to a worker in shared memory (never moved
// back and forth, which made V8 collect the calling thread's whole heap every few batches) and taken back
// once the worker answered.
import { describe, expect, it } from "vitest";
import { NDArray } from "../src/core/ndarray.js";
import { Outgoing, lent } from "../src/async/wire.js";

describe("convwasm/async's batch buffers", () => {
  it("are shared memory, sent by reference, and reused once the worker answered", async () => {
    const data = lent(1000);
    expect(data.buffer).toBeInstanceOf(SharedArrayBuffer);
    data.fill(1.5);
    const out = new Outgoing(
      "predict",
      () => 0,
      () => true,
    );
    out.encode(new NDArray(data, [10, 100]), "X");
    expect(out.bytes).toBe(0);
    const { buffers, transfer } = await out.send();
    expect(buffers).toEqual([data.buffer]);
    expect(transfer).toEqual([]);
    // lent again before the answer: another buffer; after it, the same one
    const other = lent(1000);
    expect(other.buffer).not.toBe(data.buffer);
    out.giveBack();
    expect(lent(1000).buffer).toBe(data.buffer);
  });
});
