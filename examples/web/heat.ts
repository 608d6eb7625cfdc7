// Drawing for the page: one colour convention everywhere (diverging, 0 = white, blue < 0 < red, scaled by
// the largest magnitude, with a legend giving the range), crisp cells at an integer zoom, a marker that
// stays inside its cell, number formatting without "-0.0000", and a hover/tap readout.
import type { NDArray } from "convwasm";

/** `v` to `digits` decimals; what rounds to zero is "0", never "-0". */
export function fmt(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  const s = v.toFixed(digits);
  return Number(s) === 0 ? (0).toFixed(digits) : s;
}

/** t in [-1, 1] on the diverging scale: blue (−1), white (0), red (+1). */
export function diverging(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(-1, t));
  return u >= 0
    ? [255, Math.round(255 * (1 - u * 0.85)), Math.round(255 * (1 - u))]
    : [Math.round(255 * (1 + u)), Math.round(255 * (1 + u * 0.55)), 255];
}

/** Largest magnitude of a view's elements (at least a tiny positive number). */
export function magnitude(a: NDArray): number {
  let m = 0;
  for (const v of a.toFloat64Array()) m = Math.max(m, Math.abs(v));
  return Math.max(m, 1e-12);
}

export interface HeatOptions {
  /** The cell [row, column] to frame. */
  mark?: [number, number];
  /** The magnitude that maps to full colour (default: the array's own), for maps compared side by side. */
  scale?: number;
  /** What the canvas shows, for screen readers. */
  label: string;
  /** Target width in CSS pixels, from which the integer zoom is chosen. */
  width?: number;
}

/**
 * An [h, w] array as a heat map on `canvas`, each cell an integer number of pixels square, and its
 * legend (the next sibling with class "legend", made if missing). Returns the scale used.
 */
export function drawHeat(canvas: HTMLCanvasElement, a: NDArray, o: HeatOptions): number {
  const [h, w] = a.shape;
  const zoom = Math.max(1, Math.floor((o.width ?? 256) / Math.max(h, w)));
  canvas.width = w * zoom;
  canvas.height = h * zoom;
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  const img = ctx.createImageData(canvas.width, canvas.height);
  const v = a.toFloat64Array();
  const scale = o.scale ?? magnitude(a);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [r, g, b] = diverging(v[y * w + x] / scale);
      for (let dy = 0; dy < zoom; dy++) {
        let p = 4 * ((y * zoom + dy) * canvas.width + x * zoom);
        for (let dx = 0; dx < zoom; dx++, p += 4) {
          img.data[p] = r;
          img.data[p + 1] = g;
          img.data[p + 2] = b;
          img.data[p + 3] = 255;
        }
      }
    }
  }
  if (o.mark && zoom >= 3) {
    // a two-pixel frame inside the chosen cell: black outside, white inside, no other cell touched
    const [my, mx] = o.mark;
    for (let dy = 0; dy < zoom; dy++) {
      for (let dx = 0; dx < zoom; dx++) {
        const edge = Math.min(dy, dx, zoom - 1 - dy, zoom - 1 - dx);
        if (edge > 1) continue;
        const p = 4 * ((my * zoom + dy) * canvas.width + mx * zoom + dx);
        const c = edge === 0 ? 0 : 255;
        img.data.set([c, c, c, 255], p);
      }
    }
  }
  ctx.putImageData(img, 0, 0);
  canvas.setAttribute("role", "img");
  canvas.setAttribute(
    "aria-label",
    `${o.label}: ${h}×${w}, values from ${fmt(-scale, 3)} (blue) to ${fmt(scale, 3)} (red)`,
  );
  canvas.dataset.zoom = String(zoom);
  ring(canvas, o.mark ? [...o.mark, h, w] : null);
  legend(canvas, scale);
  return scale;
}

/** Rings follow their maps' size (a map's width follows the page's). */
const rings =
  typeof ResizeObserver === "function"
    ? new ResizeObserver((es) => es.forEach((e) => place(e.target as HTMLCanvasElement)))
    : null;

/**
 * A ring ~20 CSS px across over the marked cell, on top of the canvas (whose pixels it leaves alone): a
 * cell of a 64×64 map is ~3 px on screen, too small for its frame alone to be found at a glance.
 */
function ring(canvas: HTMLCanvasElement, mark: [number, number, number, number] | null): void {
  const host = canvas.parentElement;
  if (!host) return;
  let el = host.querySelector<HTMLElement>(":scope > .ring");
  if (!mark) {
    el?.remove();
    delete canvas.dataset.mark;
    return;
  }
  host.classList.add("ringed");
  if (!el) {
    el = document.createElement("span");
    el.className = "ring";
    el.setAttribute("aria-hidden", "true");
    host.append(el);
    rings?.observe(canvas);
  }
  canvas.dataset.mark = mark.join(",");
  place(canvas);
}

function place(canvas: HTMLCanvasElement): void {
  const el = canvas.parentElement?.querySelector<HTMLElement>(":scope > .ring");
  if (!el || !canvas.dataset.mark) return;
  const [y, x, h, w] = canvas.dataset.mark.split(",").map(Number);
  // (offsets from the ringed host, inside the canvas's 1-px border)
  el.style.left = `${canvas.offsetLeft + canvas.clientLeft + ((x + 0.5) / w) * canvas.clientWidth}px`;
  el.style.top = `${canvas.offsetTop + canvas.clientTop + ((y + 0.5) / h) * canvas.clientHeight}px`;
}

/** The legend under a heat map: −m, the colour bar, +m. */
function legend(canvas: HTMLCanvasElement, scale: number): void {
  let el = canvas.nextElementSibling;
  if (!el || !el.classList.contains("legend")) {
    el = document.createElement("div");
    el.className = "legend";
    el.innerHTML = "<span></span><i></i><span></span>";
    canvas.after(el);
  }
  const [lo, hi] = el.querySelectorAll("span");
  lo.textContent = fmt(-scale, 3);
  hi.textContent = `+${fmt(scale, 3)}`;
}

/** The cell [row, column] of an [h, w] map under a pointer event on its canvas. */
export function cellAt(
  canvas: HTMLCanvasElement,
  e: { clientX: number; clientY: number },
  h: number,
  w: number,
): [number, number] {
  const r = canvas.getBoundingClientRect();
  const y = Math.floor(((e.clientY - r.top) / r.height) * h);
  const x = Math.floor(((e.clientX - r.left) / r.width) * w);
  return [Math.min(h - 1, Math.max(0, y)), Math.min(w - 1, Math.max(0, x))];
}

/**
 * Shows "name = value" in `out` while the pointer (mouse, pen or finger) is over the canvas: `read` gives
 * the map (an [h, w] array) and the text for a cell.
 */
export function readout(
  canvas: HTMLCanvasElement,
  out: HTMLElement,
  read: () => { a: NDArray; name: (y: number, x: number) => string },
): void {
  const show = (e: PointerEvent) => {
    const { a, name } = read();
    const [h, w] = a.shape;
    const [y, x] = cellAt(canvas, e, h, w);
    out.textContent = `${name(y, x)} = ${fmt(a.get(y, x))}`;
  };
  canvas.addEventListener("pointermove", show);
  canvas.addEventListener("pointerdown", show);
}

/** A small table of numbers (rows of values), the cells of `highlight` marked. */
export function table(values: number[][], highlight: (i: number, j: number) => string = () => "", digits = 2): string {
  return values
    .map(
      (row, i) =>
        `<tr>${row.map((v, j) => `<td class="${highlight(i, j)}">${Number.isNaN(v) ? "" : fmt(v, digits)}</td>`).join("")}</tr>`,
    )
    .join("");
}
