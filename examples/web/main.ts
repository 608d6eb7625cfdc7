// The step-by-step page: every panel is computed with convwasm's notebook functions in this browser.
// Panels 1–5 run on this thread (small calls); the timing runs in a Web Worker (threads where the page is
// cross-origin isolated); training and the drawing pad use convwasm/async (train.ts).
import {
  NDArray,
  RandomState,
  conv_backward,
  conv_forward,
  conv_single_step,
  create_mask_from_window,
  distribute_value,
  init,
  memory,
  pool_backward,
  pool_forward,
  zero_pad,
  zeros,
  type ConvCache,
  type PoolCache,
} from "convwasm";
import type { BenchSpec } from "convwasm/bench";
import { cellAt, drawHeat, fmt, magnitude, readout, table } from "./heat.js";
import { setupTraining } from "./train.js";
import type { TimingReply, TimingRequest } from "./timing-worker.js";

const SIZE = 64;
const LUMA = [0.299, 0.587, 0.114];
const CHANNELS = ["R", "G", "B"];
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const num = (id: string) => Number($<HTMLInputElement | HTMLSelectElement>(id).value);
/** The conv's padding control: a number, or "same" (TensorFlow's rule: the output keeps ceil(n / stride)). */
const convPad = (): number | "same" => {
  const v = $<HTMLSelectElement>("conv-pad").value;
  return v === "same" ? "same" : Number(v);
};
const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

/** Channel k of a [1,h,w,K] array, as an [h,w] view (no copy: a strided NDArray). */
function channel(a: NDArray, k: number): NDArray {
  const [, h, w] = a.shape;
  return new NDArray(a.data, [h, w], [a.strides[1], a.strides[2]], a.offset + k * a.strides[3]);
}

/** Sum over the last axis of an [h,w,c] array. */
function sumChannels(a: NDArray): NDArray {
  const [h, w, c] = a.shape;
  const v = a.toFloat64Array();
  const out = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) for (let ch = 0; ch < c; ch++) out[p] += v[p * c + ch];
  return new NDArray(out, [h, w]);
}

/** An [h,w,3] array of values in [0,1] as a picture. */
function drawRGB(canvas: HTMLCanvasElement, a: NDArray, label: string): void {
  const [h, w] = a.shape;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  const img = ctx.createImageData(w, h);
  const v = a.toFloat64Array();
  for (let p = 0; p < h * w; p++) {
    for (let c = 0; c < 3; c++) img.data[4 * p + c] = Math.round(255 * Math.min(1, Math.max(0, v[3 * p + c])));
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${label}: ${h}×${w} pixels`);
}

// ---------- the picture ----------
let X = zeros([1, SIZE, SIZE, 3]);

async function loadPicture(src: Blob | string): Promise<void> {
  let bitmap: ImageBitmap;
  try {
    const blob = typeof src === "string" ? await (await fetch(src)).blob() : src;
    bitmap = await createImageBitmap(blob);
  } catch (e) {
    const name = typeof src === "string" ? src : (src as File).name || "that file";
    $("picture-error").textContent =
      `${name} is not a picture this browser can decode (${e instanceof Error ? e.message : String(e)}); ` +
      "the previous picture stays.";
    return;
  }
  $("picture-error").textContent = "";
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = SIZE;
  const ctx = canvas.getContext("2d", { willReadFrequently: true }) as CanvasRenderingContext2D;
  // (a transparent picture over white, as the page shows it, and as examples/server reads one)
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, SIZE, SIZE);
  ctx.drawImage(bitmap, 0, 0, SIZE, SIZE);
  const rgba = ctx.getImageData(0, 0, SIZE, SIZE).data;
  const data = new Float64Array(SIZE * SIZE * 3);
  for (let p = 0; p < SIZE * SIZE; p++) for (let c = 0; c < 3; c++) data[3 * p + c] = rgba[4 * p + c] / 255;
  X = new NDArray(data, [1, SIZE, SIZE, 3]);
  picked = false;
  resetWindow();
  renderAll();
}

// ---------- the filter bank ----------
const k3 = (rows: number[][], d = 1) => rows.map((r) => r.map((x) => x / d));
const BANKS: Record<string, [string, number[][]][]> = {
  edges: [
    [
      "Sobel x",
      k3([
        [-1, 0, 1],
        [-2, 0, 2],
        [-1, 0, 1],
      ]),
    ],
    [
      "Sobel y",
      k3([
        [-1, -2, -1],
        [0, 0, 0],
        [1, 2, 1],
      ]),
    ],
    [
      "Laplacian",
      k3([
        [0, 1, 0],
        [1, -4, 1],
        [0, 1, 0],
      ]),
    ],
    [
      "diagonal",
      k3([
        [2, 1, 0],
        [1, 0, -1],
        [0, -1, -2],
      ]),
    ],
  ],
  blur: [
    [
      "box",
      k3(
        [
          [1, 1, 1],
          [1, 1, 1],
          [1, 1, 1],
        ],
        9,
      ),
    ],
    [
      "Gaussian",
      k3(
        [
          [1, 2, 1],
          [2, 4, 2],
          [1, 2, 1],
        ],
        16,
      ),
    ],
    [
      "horizontal",
      k3(
        [
          [0, 0, 0],
          [1, 1, 1],
          [0, 0, 0],
        ],
        3,
      ),
    ],
  ],
  sharpen: [
    [
      "sharpen",
      k3([
        [0, -1, 0],
        [-1, 5, -1],
        [0, -1, 0],
      ]),
    ],
    [
      "strong",
      k3([
        [-1, -1, -1],
        [-1, 9, -1],
        [-1, -1, -1],
      ]),
    ],
    [
      "identity",
      k3([
        [0, 0, 0],
        [0, 1, 0],
        [0, 0, 0],
      ]),
    ],
  ],
};
let randomSeed = 1;
function filters(): [string, number[][]][] {
  const name = $<HTMLSelectElement>("bank").value;
  if (name !== "random") return BANKS[name];
  const rs = new RandomState(randomSeed);
  return Array.from({ length: 4 }, (_, k) => [`random ${k + 1}`, rs.randn(3, 3).toNested() as number[][]]);
}

/** W [3,3,3,K]: each filter applied to the picture's brightness (luma weights over R, G, B). */
function filterArray(bank: [string, number[][]][]): NDArray {
  const W = zeros([3, 3, 3, bank.length]);
  bank.forEach(([, kern], k) => {
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) W.set(i, j, c, k, kern[i][j] * LUMA[c]);
  });
  return W;
}

// ---------- panels ----------
let Z = zeros([1, 1, 1, 1]);
let cache: ConvCache;
/** The chosen output cell: filter, row, column of Z; `picked` once the learner chose one. */
let selected: [number, number, number] = [0, 0, 0];
let picked = false;

function renderPad(): void {
  const pad = num("pad");
  $("pad-out").textContent = String(pad);
  drawRGB($("input"), X.index(0) as NDArray, "The picture X");
  const P = zero_pad(X, pad);
  drawRGB($("padded"), P.index(0) as NDArray, `zero_pad(X, ${pad})`);
  $("padded-caption").textContent = `zero_pad(X, ${pad}) → [${P.shape.join(",")}]`;
}

/** The pooling hyperparameters of panel 4. */
const poolHp = () => ({ f: num("pool-f"), stride: num("pool-stride") });

/** The windows (row ranges) of a pooling along one axis of n cells that contain cell i: [first, last] or null. */
function windowsOf(i: number, n: number, f: number, s: number): [number, number] | null {
  const count = Math.floor((n - f) / s) + 1;
  const first = Math.max(0, Math.ceil((i - f + 1) / s));
  const last = Math.min(count - 1, Math.floor(i / s));
  return first <= last ? [first, last] : null;
}

/**
 * Why index `i` of an axis of `n` cells lies in no pooling window of `f` with stride `s`: past the last
 * window's end, or (f < stride) in the gap between two windows.
 */
function outsideWindows(axis: string, i: number, n: number, f: number, s: number): string {
  const count = Math.floor((n - f) / s) + 1;
  const end = (count - 1) * s + f - 1;
  if (i > end) return `the ${count} windows of ${f} with stride ${s} over ${n} ${axis}s end at ${axis} ${end}`;
  const k = Math.floor(i / s);
  return (
    `windows of ${f} start every ${s} ${axis}s (f = ${f} < stride = ${s}): one covers ${axis}s ${k * s}–` +
    `${k * s + f - 1}, the next starts at ${(k + 1) * s}`
  );
}

/** Values this close print alike in the page's tables (3 decimals): their order is not what a reader sees. */
const SHOWN = 5e-4;

/**
 * A default cell to show: in the first map, near the centre, one with a clear value whose pooling window
 * has a clear maximum, above the others by far more than rounding (so pool_backward lights the cell a
 * reader sees as the largest, as the text says).
 */
function defaultCell(): [number, number, number] {
  const [, nH, nW] = Z.shape;
  const { f, stride } = poolHp();
  const map = channel(Z, 0);
  const scale = magnitude(map);
  let best: [number, number, number] = [0, Math.floor(nH / 2), Math.floor(nW / 2)];
  let bestDistance = Infinity;
  for (let y = 0; y < nH; y++) {
    for (let x = 0; x < nW; x++) {
      const d = (y - nH / 2) ** 2 + (x - nW / 2) ** 2;
      if (d >= bestDistance || Math.abs(map.get(y, x)) < 0.2 * scale) continue;
      const wy = windowsOf(y, nH, f, stride);
      const wx = windowsOf(x, nW, f, stride);
      if (!wy || !wx) continue;
      const values: number[] = [];
      for (let i = 0; i < f; i++)
        for (let j = 0; j < f; j++) values.push(map.get(wy[0] * stride + i, wx[0] * stride + j));
      const [top, second] = [...values].sort((a, b) => b - a);
      if (top - second > 0.05 * scale) [best, bestDistance] = [[0, y, x], d];
    }
  }
  return best;
}

/** The conv's output-size formula with the current numbers (the picture is SIZE×SIZE, the filters 3×3). */
function convSize(stride: number, pad: number | "same", nH: number): string {
  if (pad === "same") {
    const total = Math.max((nH - 1) * stride + 3 - SIZE, 0);
    return (
      `'same': n_H = ⌈n_H_prev / stride⌉ = ⌈${SIZE} / ${stride}⌉ = ${nH}, padding ${total} in all ` +
      `(${Math.floor(total / 2)} at the top, ${total - Math.floor(total / 2)} at the bottom; the same across)`
    );
  }
  return `n_H = ⌊(n_H_prev + 2·pad − f) / stride⌋ + 1 = ⌊(${SIZE} + 2·${pad} − 3) / ${stride}⌋ + 1 = ${nH} (the same across: ${nH}×${nH})`;
}

function renderConv(): void {
  const bank = filters();
  const W = filterArray(bank);
  const b = zeros([1, 1, 1, bank.length]);
  [Z, cache] = conv_forward(X, W, b, { stride: num("stride"), pad: convPad() });
  const [, nH, nW, K] = Z.shape;
  $("conv-size").textContent = convSize(num("stride"), convPad(), nH);
  selected = picked
    ? [Math.min(selected[0], K - 1), Math.min(selected[1], nH - 1), Math.min(selected[2], nW - 1)]
    : defaultCell();
  const maps = $("maps");
  maps.innerHTML = "";
  const scale = magnitude(Z);
  bank.forEach(([name], k) => {
    const fig = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.dataset.k = String(k);
    canvas.tabIndex = 0;
    const cap = document.createElement("figcaption");
    cap.textContent = `${name} → Z[0,:,:,${k}] ${nH}×${nW}`;
    fig.append(canvas, cap);
    maps.append(fig);
    drawHeat(canvas, channel(Z, k), { label: `Feature map ${k} (${name})`, scale, width: 256 });
    canvas.addEventListener("click", (e) => choose([k, ...cellAt(canvas, e, nH, nW)]));
    // (focus alone chooses nothing: tabbing past the maps keeps the chosen cell; arrows choose in this map)
    canvas.addEventListener("keydown", (e) => arrows(e, k));
    readout(canvas, $("maps-readout"), () => ({ a: channel(Z, k), name: (y, x) => `Z[0,${y},${x},${k}]` }));
  });
  $("maps-legend").textContent =
    `All maps share one scale: ${fmt(-scale, 3)} (blue) … 0 (white) … +${fmt(scale, 3)} (red).`;
  renderMarks();
}

/** Arrow keys on a map (or the lens, for the chosen map): the chosen cell moves one step in map k. */
function arrows(e: KeyboardEvent, k: number): void {
  const step: Record<string, [number, number]> = {
    ArrowUp: [-1, 0],
    ArrowDown: [1, 0],
    ArrowLeft: [0, -1],
    ArrowRight: [0, 1],
  };
  const d = step[e.key];
  if (!d) return;
  e.preventDefault();
  const [, nH, nW] = Z.shape;
  choose([k, Math.min(nH - 1, Math.max(0, selected[1] + d[0])), Math.min(nW - 1, Math.max(0, selected[2] + d[1]))]);
}

function choose(cell: [number, number, number]): void {
  const map = selected[0];
  selected = cell;
  picked = true;
  renderMarks();
  // (the pooling panel pools the chosen cell's map)
  if (cell[0] !== map) renderPool();
  renderCell();
}

/** Cells of the lens around the chosen cell (odd: the chosen one in the middle). */
const LENS = 11;

/** The lens: LENS×LENS cells of the chosen map around the chosen cell, large enough to pick one by finger. */
function renderLens(scale: number): void {
  const [k, y, x] = selected;
  const [, nH, nW] = Z.shape;
  const [y0, x0] = [
    Math.min(Math.max(0, y - (LENS >> 1)), Math.max(0, nH - LENS)),
    Math.min(Math.max(0, x - (LENS >> 1)), Math.max(0, nW - LENS)),
  ];
  const [h, w] = [Math.min(LENS, nH), Math.min(LENS, nW)];
  const map = channel(Z, k);
  const view = new NDArray(map.data, [h, w], map.strides, map.offset + y0 * map.strides[0] + x0 * map.strides[1]);
  drawHeat($("lens"), view, {
    label: `Feature map ${k} around cell (${y}, ${x})`,
    scale,
    width: 176,
    mark: [y - y0, x - x0],
  });
  $("lens").dataset.origin = `${y0},${x0}`;
  $("lens-caption").textContent = `Z[0, ${y0}–${y0 + h - 1}, ${x0}–${x0 + w - 1}, ${k}]: tap a cell here to move to it`;
}

function renderMarks(): void {
  const scale = magnitude(Z);
  renderLens(scale);
  document.querySelectorAll<HTMLCanvasElement>("#maps canvas").forEach((canvas) => {
    const k = Number(canvas.dataset.k);
    drawHeat(canvas, channel(Z, k), {
      label: `Feature map ${k}${selected[0] === k ? `, cell (${selected[1]}, ${selected[2]}) chosen` : ""}`,
      scale,
      width: 256,
      mark: selected[0] === k ? [selected[1], selected[2]] : undefined,
    });
  });
}

let pooled: { A_prev: NDArray; cache: PoolCache; avgCache: PoolCache; shape: number[] } | null = null;
/** Panel 4: max and average pooling of the chosen cell's feature map. */
function renderPool(): void {
  const k = selected[0];
  // the chosen map as an array of one channel (a view)
  const A_prev = new NDArray(Z.data, [1, Z.shape[1], Z.shape[2], 1], Z.strides, Z.offset + k * Z.strides[3]);
  const hp = poolHp();
  $("pool-in-caption").textContent = `A_prev (feature map ${k}, the chosen cell's)`;
  const scale = drawHeat($("pool-in"), channel(A_prev, 0), { label: `A_prev, feature map ${k}`, width: 160 });
  if (hp.f > Math.min(Z.shape[1], Z.shape[2])) {
    pooled = null;
    $("pool-note").textContent = `f = ${hp.f} is larger than the ${Z.shape[1]}×${Z.shape[2]} map.`;
    return;
  }
  $("pool-note").textContent = "";
  const [Amax, c] = pool_forward(A_prev, hp, "max");
  $("pool-size").textContent =
    `n_H = ⌊(n_H_prev − f) / stride⌋ + 1 = ⌊(${Z.shape[1]} − ${hp.f}) / ${hp.stride}⌋ + 1 = ${Amax.shape[1]}` +
    ` (the same across: ${Amax.shape[1]}×${Amax.shape[2]})`;
  const [Aavg, ca] = pool_forward(A_prev, hp, "average");
  // (one scale for the three: pooling never leaves A_prev's range)
  drawHeat($("pool-max"), channel(Amax, 0), { label: "max pooling", scale, width: 160 });
  drawHeat($("pool-avg"), channel(Aavg, 0), { label: "average pooling", scale, width: 160 });
  pooled = { A_prev, cache: c, avgCache: ca, shape: [...Amax.shape] };
}

/** Panel 5's gradient maps as last drawn, for the readout under the pointer. */
const gradMaps: { da: NDArray | null; max: NDArray | null; avg: NDArray | null; daMark?: [number, number] } = {
  da: null,
  max: null,
  avg: null,
};

/** Decimals of panel 5's window, filter and products (one precision, so a reader can redo the sum). */
const SUM_DIGITS = 3;

/** Three [3,3] tables side by side (one per channel of an [3,3,3] array). */
function channelTables(a: NDArray, what: string, digits = 2): string {
  return CHANNELS.map(
    (name, c) =>
      `<div><div class="tname">${name}</div><table class="grid small" aria-label="${what}, ${name} channel">${table(
        Array.from({ length: 3 }, (_, i) => Array.from({ length: 3 }, (_, j) => a.get(i, j, c))),
        () => "",
        digits,
      )}</table></div>`,
  ).join("");
}

/** Panel 5: the chosen cell, zoomed — its receptive field across channels, the product, and every gradient. */
/** The controls kept in the URL (after #), by key: each control's id. */
const SETUP = {
  zp: "pad",
  bank: "bank",
  stride: "stride",
  pad: "conv-pad",
  f: "pool-f",
  ps: "pool-stride",
  win: "win-stride",
  net: "train-net",
  opt: "train-opt",
  lr: "train-lr",
  batch: "train-batch",
};

/** Writes the setup (the controls and a chosen cell) into the URL, so that a link or a reload keeps it. */
function saveSetup(): void {
  const q = new URLSearchParams();
  for (const [key, id] of Object.entries(SETUP)) q.set(key, $<HTMLInputElement | HTMLSelectElement>(id).value);
  if (picked) q.set("cell", selected.join(","));
  history.replaceState(null, "", `#${q}`);
}

/** Sets the controls from the URL: only values a control offers. */
function restoreSetup(): void {
  const q = new URLSearchParams(location.hash.slice(1));
  for (const [key, id] of Object.entries(SETUP)) {
    const v = q.get(key);
    const el = $<HTMLInputElement | HTMLSelectElement>(id);
    if (v === null) continue;
    if (el instanceof HTMLSelectElement) {
      if ([...el.options].some((o) => o.value === v)) el.value = v;
    } else if (/^\d+$/.test(v) && Number(v) >= Number(el.min) && Number(v) <= Number(el.max)) {
      el.value = v;
      $("pad-out").textContent = v;
    }
  }
}

/** The chosen cell from the URL as the page opened, if it held one (applied after the first picture, which resets the choice). */
const openedWith = new URLSearchParams(location.hash.slice(1));
function restoreCell(): boolean {
  const cell = (openedWith.get("cell") ?? "").split(",").map(Number);
  if (cell.length !== 3 || !cell.every((n) => Number.isInteger(n) && n >= 0)) return false;
  selected = cell as [number, number, number];
  picked = true;
  return true;
}

function renderCell(): void {
  saveSetup();
  const [k, y, x] = selected;
  const [A_prev, W, , hp] = cache;
  const s = num("stride");
  // the receptive field in the padded input: rows y·s … y·s+2, columns x·s … x·s+2
  const pads = cache[3].pad;
  const P = typeof pads === "number" ? zero_pad(A_prev, pads) : padSame(A_prev, s);
  const win = new NDArray(
    P.data,
    [3, 3, 3],
    P.strides.slice(1),
    P.offset + y * s * P.strides[1] + x * s * P.strides[2],
  );
  const Wk = new NDArray(W.data, [3, 3, 3], W.strides.slice(0, 3), W.offset + k * W.strides[3]);
  const prod = new NDArray(
    Float64Array.from({ length: 27 }, (_, i) => win.toFloat64Array()[i] * Wk.toFloat64Array()[i]),
    [3, 3, 3],
  );
  $("cell-title").textContent = `Cell Z[0, ${y}, ${x}, ${k}] = ${fmt(Z.get(0, y, x, k))}`;
  // window, filter and products to the same 3 decimals; the sum says what rounding does to it
  $("cell-window").innerHTML = channelTables(win, "the input window", SUM_DIGITS);
  $("cell-filter").innerHTML = channelTables(Wk, "the filter", SUM_DIGITS);
  $("cell-product").innerHTML = channelTables(prod, "the products", SUM_DIGITS);
  const shown = prod.toFloat64Array().reduce((t, v) => t + Number(fmt(v, SUM_DIGITS)), 0);
  $("cell-sum").textContent =
    `sum of the 27 products + b = ${fmt(conv_single_step(win, Wk, 0))} + 0 = ${fmt(Z.get(0, y, x, k))}` +
    ` (conv_single_step; stride ${s}, pad ${JSON.stringify(hp.pad)}). The tables are rounded to ${SUM_DIGITS}` +
    ` decimals: the 27 products as shown add to ${fmt(shown, SUM_DIGITS)}; the sum is of the exact ones.`;

  // gradients: dZ is 1 at this cell
  const dZ = zeros([...Z.shape]);
  dZ.set(0, y, x, k, 1);
  const [dA, dW, db] = conv_backward(dZ, cache);
  gradMaps.da = sumChannels(dA.index(0) as NDArray);
  // (ringed at the middle of the chosen cell's 3×3 window on the input: the cells dA_prev reaches)
  const [, hIn, wIn] = A_prev.shape;
  const before = (n: number) => (typeof pads === "number" ? pads : samePad(n, s)[0]);
  const centre = (i: number, n: number) => Math.min(n - 1, Math.max(0, i * s - before(n) + 1));
  gradMaps.daMark = [centre(y, hIn), centre(x, wIn)];
  drawHeat($("grad-da"), gradMaps.da, { label: "dA_prev summed over channels", width: 256, mark: gradMaps.daMark });
  const z = Z.get(0, y, x, k);
  $("maps-choice").innerHTML =
    `Chosen: Z[0,${y},${x},${k}] = ${fmt(z)}; its window, products and gradients are in ` +
    `<a href="#panel-grad">panel 5</a>.`;
  const dWk = new NDArray(dW.data, [3, 3, 3], dW.strides.slice(0, 3), dW.offset + k * dW.strides[3]);
  $("grad-dw").innerHTML = channelTables(dWk, "dW");
  $("grad-db").textContent = `db[${k}] = ${fmt(db.toFloat64Array()[k], 0)}, the other filters' db = 0`;

  // pooling: the window of the chosen map that holds the cell (panel 4 pools that map)
  const poolOut = $("grad-pool-text");
  if (!pooled) {
    poolOut.textContent = "";
    return;
  }
  const { f, stride } = poolHp();
  const [, nH, nW] = Z.shape;
  const wy = windowsOf(y, nH, f, stride);
  const wx = windowsOf(x, nW, f, stride);
  const dA_pool = zeros(pooled.shape);
  let text: string;
  let window: NDArray | null = null;
  if (!wy || !wx) {
    const why = [
      ...(wy ? [] : [outsideWindows("row", y, nH, f, stride)]),
      ...(wx ? [] : [outsideWindows("column", x, nW, f, stride)]),
    ];
    text = `Cell (${y}, ${x}) lies in no pooling window: ${why.join("; ")}. Its pool gradient is 0.`;
  } else {
    const [py, px] = [wy[0], wx[0]];
    const many = (wy[1] - wy[0] + 1) * (wx[1] - wx[0] + 1);
    dA_pool.set(0, py, px, 0, 1);
    window = new NDArray(
      pooled.A_prev.data,
      [f, f],
      [pooled.A_prev.strides[1], pooled.A_prev.strides[2]],
      pooled.A_prev.offset + py * stride * pooled.A_prev.strides[1] + px * stride * pooled.A_prev.strides[2],
    );
    text =
      `Pooled cell (${py}, ${px}) of map ${k}: its window, rows ${py * stride}–${py * stride + f - 1} and columns ` +
      `${px * stride}–${px * stride + f - 1}, holds (${y}, ${x})` +
      (many > 1 ? ` (one of the ${many} windows that do, as f > stride)` : "") +
      `. dA = 1 there: max pooling routes it to the window's maximum (the mask), average pooling spreads it evenly ` +
      `(distribute_value(1, [${f}, ${f}])).`;
    const [top, second] = window.toFloat64Array().sort((a, b) => b - a);
    if (f * f > 1 && top - second < SHOWN) {
      text +=
        ` Its largest values tie at the precision shown (they differ by ${(top - second).toExponential(1)}): ` +
        `the mask marks the one that is largest by its exact value, a choice rounding made.`;
    }
  }
  poolOut.textContent = text;
  const dMax = pool_backward(dA_pool, pooled.cache, "max");
  const dAvg = pool_backward(dA_pool, pooled.avgCache, "average");
  [gradMaps.max, gradMaps.avg] = [channel(dMax, 0), channel(dAvg, 0)];
  drawHeat($("grad-pool"), gradMaps.max, { label: "pool_backward, max", width: 256, mark: [y, x] });
  drawHeat($("grad-pool-avg"), gradMaps.avg, { label: "pool_backward, average", width: 256, mark: [y, x] });
  const rows = (a: NDArray) => Array.from({ length: f }, (_, i) => Array.from({ length: f }, (_, j) => a.get(i, j)));
  $("pool-window").innerHTML = window ? table(rows(window), () => "", 3) : "";
  $("pool-mask").innerHTML = window ? table(rows(create_mask_from_window(window)), () => "", 0) : "";
  $("pool-distribute").innerHTML = window ? table(rows(distribute_value(1, [f, f])), () => "", 3) : "";
}

/** A_prev padded as 'same' pads it (the extra row and column, when odd, at the bottom and right). */
/** 'same' padding of a 3×3 window with stride s over n cells (TensorFlow's rule): [before, in all]. */
function samePad(n: number, s: number): [number, number] {
  const total = Math.max(0, (Math.ceil(n / s) - 1) * s + 3 - n);
  return [Math.floor(total / 2), total];
}

function padSame(A_prev: NDArray, s: number): NDArray {
  const [, h, w, c] = A_prev.shape;
  const [[top, th], [left, tw]] = [samePad(h, s), samePad(w, s)];
  const out = zeros([1, h + th, w + tw, c]);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (let ch = 0; ch < c; ch++) out.set(0, i + top, j + left, ch, A_prev.get(0, i, j, ch));
  return out;
}

// ---------- the sliding window ----------
const PATCH = 6;
let winStep = 0;
let outputs: number[] = [];
/** A new picture, filter or stride: the output table starts empty, at window position 0. */
function resetWindow(): void {
  winStep = 0;
  outputs = [];
}

function windowData(): { P: NDArray; kern: NDArray; n: number; s: number } {
  // brightness of a 6×6 patch around the door and the house's corner, padded by 1
  const g = zeros([1, PATCH, PATCH, 1]);
  for (let i = 0; i < PATCH; i++) {
    for (let j = 0; j < PATCH; j++) {
      let v = 0;
      for (let c = 0; c < 3; c++) v += LUMA[c] * X.get(0, 34 + i, 20 + j, c);
      g.set(0, i, j, 0, Math.round(v * 100) / 100);
    }
  }
  const P = zero_pad(g, 1);
  const kern = new NDArray(Float64Array.from(filters()[0][1].flat()), [3, 3, 1]);
  const s = num("win-stride");
  return { P, kern, n: Math.floor((PATCH + 2 - 3) / s) + 1, s };
}

function renderWindow(): void {
  const { P, kern, n, s } = windowData();
  const pos = winStep % (n * n);
  if (pos === 0) outputs = [];
  const [oh, ow] = [Math.floor(pos / n), pos % n];
  const [r0, c0] = [oh * s, ow * s];
  const size = PATCH + 2;
  const grid = (P.index(0).toNested() as number[][][]).map((row) => row.map((v) => v[0]));
  $("grid").innerHTML = table(grid, (i, j) =>
    i >= r0 && i < r0 + 3 && j >= c0 && j < c0 + 3
      ? "win"
      : i === 0 || j === 0 || i === size - 1 || j === size - 1
        ? "pad"
        : "",
  );
  const slice = new NDArray(P.data, [3, 3, 1], P.strides.slice(1), P.offset + r0 * P.strides[1] + c0 * P.strides[2]);
  const value = conv_single_step(slice, kern, 0);
  outputs[pos] = value;
  $("win-pos").textContent = `(${oh}, ${ow}): rows ${r0}–${r0 + 2}, columns ${c0}–${c0 + 2}`;
  $("win-slice").innerHTML = table((slice.toNested() as number[][][]).map((r) => r.map((v) => v[0])));
  $("win-filter").innerHTML = table((kern.toNested() as number[][][]).map((r) => r.map((v) => v[0])));
  $("win-value").textContent = fmt(value);
  $("win-out").innerHTML = table(
    Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => outputs[i * n + j] ?? NaN)),
    (i, j) => (i * n + j === pos ? "win" : ""),
  );
}

let timer: ReturnType<typeof setInterval> | null = null;
function play(on: boolean): void {
  if (timer) clearInterval(timer);
  timer = on
    ? setInterval(() => {
        winStep++;
        renderWindow();
      }, 900)
    : null;
  $("play").textContent = on ? "Pause" : "Play";
  $("play").setAttribute("aria-pressed", String(on));
}

// ---------- timing (in a Web Worker) ----------
const timingWorker = new Worker(new URL("./timing-worker.ts", import.meta.url), { type: "module" });
let timingQueued: ReturnType<typeof setTimeout> | null = null;
let timingBusy = false;
let timingAgain = false;
/** Times again after the settings change (debounced): the table never shows another setting's times. */
function retime(): void {
  $("timing").classList.add("stale");
  if (timingQueued) clearTimeout(timingQueued);
  timingQueued = setTimeout(() => void runBenchmark(), 400);
}

/** ms to two significant digits (the run-to-run spread makes more meaningless); below the timer's step, said so. */
function ms(v: number, resolution = 0): string {
  // (a time of 0 was below the step too: never "< 0")
  if (v < resolution || v <= 0) return `< ${(resolution > 0 ? resolution : 0.001).toPrecision(1)}`;
  return v >= 10 ? v.toFixed(0) : v.toPrecision(2);
}

async function runBenchmark(): Promise<void> {
  if (timingBusy) {
    timingAgain = true;
    return;
  }
  timingBusy = true;
  $("bench").setAttribute("aria-busy", "true");
  const [A_prev, W] = cache;
  const specs: BenchSpec[] = [
    {
      kind: "conv",
      name: "page",
      A: [...A_prev.shape],
      W: [...W.shape],
      stride: num("stride"),
      pad: convPad(),
      backward: true,
    },
  ];
  if (pooled) {
    const { f, stride } = poolHp();
    for (const mode of ["max", "average"] as const) {
      specs.push({ kind: "pool", name: "page", A: [...pooled.A_prev.shape], f, stride, mode, backward: true });
    }
  }
  const request: TimingRequest = { specs, pad: { shape: [...X.shape], pad: num("pad") } };
  const reply = await new Promise<TimingReply>((resolve) => {
    timingWorker.onmessage = (e: MessageEvent<TimingReply>) => resolve(e.data);
    timingWorker.postMessage(request);
  });
  // (zero_pad is timed over many calls, so it is measured below the timer's step; bench() times one call)
  const res = reply.resolutionMs;
  const rows = [
    `<tr><td>zero_pad</td><td>${ms(reply.zeroPad.minMs)}</td><td>${ms(reply.zeroPad.medianMs)}</td><td></td></tr>`,
    ...reply.records.map((r) => {
      const name = r.op.startsWith("pool") ? `${r.op} ${r.shape.split(" ").pop()}` : r.op;
      const rate = r.gflop > 0 && r.minMs >= res ? `${r.gflops.toFixed(1)} · ${r.percentOfCeiling.toFixed(0)}%` : "";
      return `<tr><td>${name}</td><td>${ms(r.minMs, res)}</td><td>${ms(r.medianMs, res)}</td><td>${rate}</td></tr>`;
    }),
  ];
  $("timing").innerHTML =
    `<tr><th>op (this page's shapes, 1 thread)</th><th>fastest ms</th><th>median ms</th><th>GFLOP/s · % of ceiling</th></tr>${rows.join("")}`;
  $("timing").classList.remove("stale");
  $("threads-line").textContent =
    `In the timing worker: ${reply.threading.reason}. This browser's timer steps by ${res.toPrecision(2)} ms` +
    (res >= 0.05
      ? " (coarse because the page is not cross-origin isolated): shorter times read '< " + res.toPrecision(1) + "'."
      : ".");
  const large = reply.large;
  const two = large.find((r) => r.threads === 2);
  $("threads-table").innerHTML =
    `<tr><th>conv_forward [2,32,32,32] · 3×3×64</th><th>fastest ms</th><th>speed-up</th></tr>` +
    large
      .map(
        (r) =>
          `<tr><td>${r.threads} thread${r.threads > 1 ? "s" : ""}</td><td>${ms(r.minMs)}</td><td>${r.speedup.toFixed(2)}×</td></tr>`,
      )
      .join("") +
    (two ? "" : `<tr><td colspan="3">one thread only here: ${reply.threading.reason}</td></tr>`);
  $("threads-note").textContent = two
    ? `Two threads can at best halve the time (2×); here ${two.speedup.toFixed(2)}×. What limits it: the cores ` +
      `the browser gives the page (it reports ${navigator.hardwareConcurrency}), other tabs and programs on them, ` +
      `the helper thread waking from sleep at the start of each call (tens to hundreds of µs), and the calling ` +
      `thread's copies of rows in and out, which only it can do.`
    : "";
  const m = memory();
  $("status").textContent = `${readyText} · WASM memory ${(m.wasmBytes / 1024 / 1024).toFixed(1)} MiB on this thread.`;
  $("bench").removeAttribute("aria-busy");
  timingBusy = false;
  document.body.dataset.timed = String(Number(document.body.dataset.timed ?? 0) + 1);
  if (timingAgain) {
    timingAgain = false;
    void runBenchmark();
  }
}
let readyText = "";

// ---------- wiring ----------
function renderAll(): void {
  renderPad();
  renderConv();
  renderPool();
  renderCell();
  renderWindow();
  retime();
}

async function main(): Promise<void> {
  const t0 = performance.now();
  await init();
  readyText = `convwasm ready in ${(performance.now() - t0).toFixed(0)} ms`;
  $("status").textContent = readyText;
  restoreSetup();
  await loadPicture(new URL("./picture.png", import.meta.url).href);
  // (the chosen cell, clamped into the map when drawn)
  if (restoreCell()) renderAll();
  $("pad").addEventListener("input", () => (renderPad(), saveSetup(), retime()));
  for (const id of ["bank", "stride", "conv-pad"]) {
    $(id).addEventListener("change", () => {
      if (id === "bank") randomSeed++;
      renderConv();
      renderPool();
      renderCell();
      resetWindow();
      renderWindow();
      retime();
    });
  }
  for (const id of ["pool-f", "pool-stride"]) {
    $(id).addEventListener("change", () => {
      if (!picked) renderConv();
      renderPool();
      renderCell();
      retime();
    });
  }
  $("win-stride").addEventListener("change", () => (resetWindow(), renderWindow(), saveSetup()));
  for (const id of ["train-net", "train-opt", "train-lr", "train-batch"]) $(id).addEventListener("change", saveSetup);
  $("play").addEventListener("click", () => play(timer === null));
  $("step").addEventListener("click", () => (play(false), winStep++, renderWindow()));
  $("file").addEventListener("change", () => {
    const f = $<HTMLInputElement>("file").files?.[0];
    if (f) void loadPicture(f);
  });
  document.body.addEventListener("dragover", (e) => (e.preventDefault(), document.body.classList.add("dragging")));
  document.body.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.body.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dragging");
    const f = e.dataTransfer?.files[0];
    if (f) void loadPicture(f);
  });
  $("bench").addEventListener("click", () => void runBenchmark());
  const lens = $<HTMLCanvasElement>("lens");
  lens.addEventListener("click", (e) => {
    const [y0, x0] = (lens.dataset.origin ?? "0,0").split(",").map(Number);
    const zoom = Number(lens.dataset.zoom);
    const [dy, dx] = cellAt(lens, e, lens.height / zoom, lens.width / zoom);
    choose([selected[0], y0 + dy, x0 + dx]);
  });
  lens.addEventListener("keydown", (e) => arrows(e, selected[0]));
  // a readout under the pointer (or a finger) on the gradient maps too
  for (const [id, key, name] of [
    ["grad-da", "da", "dA_prev (summed over channels)"],
    ["grad-pool", "max", "pool_backward max: dA_prev"],
    ["grad-pool-avg", "avg", "pool_backward average: dA_prev"],
  ] as const) {
    readout($<HTMLCanvasElement>(id), $("grad-readout"), () => ({
      a: gradMaps[key] ?? zeros([1, 1]),
      name: (y, x) => `${name}[${y},${x}]`,
    }));
  }
  // the window animates unless the reader asked for reduced motion
  play(!reducedMotion());
  document.body.dataset.ready = "true";
  await setupTraining();
  document.body.dataset.trainReady = "true";
}

main().catch((e: unknown) => {
  $("status").textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
  console.error(e);
});
