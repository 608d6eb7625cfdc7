// Shape arithmetic shared by NDArray, printing and the arena (below all of them: it imports nothing).

/** C-order (row-major) strides in elements for a shape. */
export function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

/** Product of a shape's entries. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** How many elements of the data a view's elements span, from its first to its last (0 when empty). */
export function spanOf(shape: readonly number[], strides: readonly number[]): number {
  if (shape.some((d) => d === 0)) return 0;
  let span = 1;
  shape.forEach((d, k) => (span += (d - 1) * strides[k]));
  return span;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}
