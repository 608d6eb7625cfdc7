// The step-by-step page: every panel is computed with convwasm's notebook functions in this browser.
import {
  NDArray,
  RandomState,
  conv_backward,
  conv_forward,
  conv_single_step,
  init,
  memory,
  pool_backward,
  pool_forward,
  zero_pad,
  zeros,
  type ConvCache,
} from "convwasm";
import { bench, type BenchSpec } from "convwasm/bench";

const SIZE = 64;
const LUMA = [0.299, 0.587, 0.114];
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const num = (id: string) => Number($<HTMLInputElement | HTMLSelectElement>(id).value);
/** The conv's padding control: a number, or "same" (TensorFlow's rule: the output keeps ceil(n / stride)). */
const convPad = (): number | "same" => {
  const v = $<HTMLSelectElement>("conv-pad").value;
  return v === "same" ? "same" : Number(v);
};

// ---------- timing ----------
// performance.now() is coarse in pages that are not cross-origin isolated (0.1 ms), so each op is
// repeated for a while and the mean per call is shown.
const timings = new Map<string, { ms: number; calls: number; rate?: string }>();
function benchmark(ops: [string, () => unknown][]): void {
  for (const [name, f] of ops) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    while (calls < 3 || t - t0 < 60) {
      f();
      calls++;
      t = performance.now();
    }
    timings.set(name, { ms: (t - t0) / calls, calls });
  }
  renderTiming();
}
function renderTiming(): void {
  const rows = [...timings].map(
    ([name, s]) => `<tr><td>${name}</td><td>${s.ms.toFixed(3)}</td><td>${s.rate ?? ""}</td><td>${s.calls}</td></tr>`,
  );
  $("timing").innerHTML =
    `<tr><th>op</th><th>ms per call</th><th>GFLOP/s · % of this machine's ceiling</th><th>calls</th></tr>${rows.join("")}`;
  const m = memory();
  $("status").textContent =
    `${readyText} · WASM memory ${(m.wasmBytes / 1024 / 1024).toFixed(1)} MiB, arena in use ${m.arenaBytesInUse} bytes.`;
}
let readyText = "";

// ---------- drawing ----------
function setSize(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  canvas.width = w;
  canvas.height = h;
  return canvas.getContext("2d") as CanvasRenderingContext2D;
}

/** An [h,w,3] array of values in [0,1] as a picture. */
function drawRGB(canvas: HTMLCanvasElement, a: NDArray): void {
  const [h, w] = a.shape;
  const ctx = setSize(canvas, w, h);
  const img = ctx.createImageData(w, h);
  const v = a.toFloat64Array();
  for (let p = 0; p < h * w; p++) {
    for (let c = 0; c < 3; c++) img.data[4 * p + c] = Math.round(255 * Math.min(1, Math.max(0, v[3 * p + c])));
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

const PLASMA = [
  [13, 8, 135],
  [126, 3, 168],
  [204, 71, 120],
  [248, 149, 64],
  [240, 249, 33],
];

/** Colour of t in [0,1] on a plasma-like scale. */
function plasma(t: number): number[] {
  const x = Math.min(0.999999, Math.max(0, t)) * (PLASMA.length - 1);
  const i = Math.floor(x);
  return PLASMA[i].map((c, j) => c + (PLASMA[i + 1][j] - c) * (x - i));
}

/**
 * A 2-D array as a heat map: diverging (blue < 0 < red, scaled by its largest magnitude) when it has
 * both signs, sequential (plasma, from its minimum to its maximum) when it has one.
 */
function drawHeat(canvas: HTMLCanvasElement, a: NDArray, mark?: [number, number]): void {
  const [h, w] = a.shape;
  const ctx = setSize(canvas, w, h);
  const img = ctx.createImageData(w, h);
  const v = a.toFloat64Array();
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
  const signed = lo < 0 && hi > 0;
  const scale = Math.max(1e-12, Math.abs(lo), Math.abs(hi));
  for (let p = 0; p < h * w; p++) {
    const t = v[p] / scale;
    const rgb = signed
      ? t >= 0
        ? [255, 255 * (1 - t), 255 * (1 - t)]
        : [255 * (1 + t), 255 * (1 + t), 255]
      : plasma((v[p] - lo) / Math.max(1e-12, hi - lo));
    img.data.set([...rgb, 255], 4 * p);
  }
  ctx.putImageData(img, 0, 0);
  if (mark) {
    ctx.strokeStyle = "#0c0";
    ctx.lineWidth = Math.max(0.3, w / 64);
    ctx.strokeRect(mark[1] + 0.1, mark[0] + 0.1, 0.8, 0.8);
  }
}

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

// ---------- the picture ----------
let X = zeros([1, SIZE, SIZE, 3]);

async function loadPicture(src: Blob | string): Promise<void> {
  const blob = typeof src === "string" ? await (await fetch(src)).blob() : src;
  const bitmap = await createImageBitmap(blob);
  const canvas = document.createElement("canvas");
  const ctx = setSize(canvas, SIZE, SIZE);
  ctx.drawImage(bitmap, 0, 0, SIZE, SIZE);
  const rgba = ctx.getImageData(0, 0, SIZE, SIZE).data;
  const data = new Float64Array(SIZE * SIZE * 3);
  for (let p = 0; p < SIZE * SIZE; p++) for (let c = 0; c < 3; c++) data[3 * p + c] = rgba[4 * p + c] / 255;
  X = new NDArray(data, [1, SIZE, SIZE, 3]);
  renderAll();
}

// ---------- the filter bank ----------
const BANKS: Record<string, [string, number[][]][]> = {
  edges: [
    [
      "Sobel x",
      [
        [-1, 0, 1],
        [-2, 0, 2],
        [-1, 0, 1],
      ],
    ],
    [
      "Sobel y",
      [
        [-1, -2, -1],
        [0, 0, 0],
        [1, 2, 1],
      ],
    ],
    [
      "Laplacian",
      [
        [0, 1, 0],
        [1, -4, 1],
        [0, 1, 0],
      ],
    ],
    [
      "diagonal",
      [
        [2, 1, 0],
        [1, 0, -1],
        [0, -1, -2],
      ],
    ],
  ],
  blur: [
    [
      "box",
      [
        [1, 1, 1],
        [1, 1, 1],
        [1, 1, 1],
      ].map((r) => r.map((x) => x / 9)),
    ],
    [
      "Gaussian",
      [
        [1, 2, 1],
        [2, 4, 2],
        [1, 2, 1],
      ].map((r) => r.map((x) => x / 16)),
    ],
    [
      "horizontal",
      [
        [0, 0, 0],
        [1, 1, 1],
        [0, 0, 0],
      ].map((r) => r.map((x) => x / 3)),
    ],
  ],
  sharpen: [
    [
      "sharpen",
      [
        [0, -1, 0],
        [-1, 5, -1],
        [0, -1, 0],
      ],
    ],
    [
      "strong",
      [
        [-1, -1, -1],
        [-1, 9, -1],
        [-1, -1, -1],
      ],
    ],
    [
      "identity",
      [
        [0, 0, 0],
        [0, 1, 0],
        [0, 0, 0],
      ],
    ],
  ],
};
let randomSeed = 1;
function filters(): [string, number[][]][] {
  const name = $<HTMLSelectElement>("bank").value;
  if (name !== "random") return BANKS[name];
  const rs = new RandomState(randomSeed);
  return Array.from({ length: 4 }, (_, k) => {
    const w = rs.randn(3, 3).toNested() as number[][];
    return [`random ${k + 1}`, w] as [string, number[][]];
  });
}

/** W [3,3,3,K]: each filter applied to the picture's brightness (luma weights over R, G, B). */
function filterArray(bank: [string, number[][]][]): NDArray {
  const K = bank.length;
  const W = zeros([3, 3, 3, K]);
  bank.forEach(([, kern], k) => {
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) W.set(i, j, c, k, kern[i][j] * LUMA[c]);
  });
  return W;
}

// ---------- panels ----------
let Z = zeros([1, 1, 1, 1]);
let cache: ConvCache;
let selected: [number, number, number] = [0, 16, 16]; // filter, row, column of Z

function renderPad(): void {
  const pad = num("pad");
  $("pad-out").textContent = String(pad);
  drawRGB($("input"), X.index(0));
  const P = zero_pad(X, pad);
  drawRGB($("padded"), P.index(0));
  $("padded-caption").textContent = `zero_pad(X, ${pad}) → [${P.shape.join(",")}]`;
}

function renderConv(): void {
  const bank = filters();
  const W = filterArray(bank);
  const b = zeros([1, 1, 1, bank.length]);
  [Z, cache] = conv_forward(X, W, b, { stride: num("stride"), pad: convPad() });
  const [, nH, nW, K] = Z.shape;
  selected = [Math.min(selected[0], K - 1), Math.min(selected[1], nH - 1), Math.min(selected[2], nW - 1)];
  const maps = $("maps");
  maps.innerHTML = "";
  bank.forEach(([name], k) => {
    const fig = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.dataset.k = String(k);
    drawHeat(canvas, channel(Z, k), selected[0] === k ? [selected[1], selected[2]] : undefined);
    canvas.addEventListener("click", (e) => {
      const r = canvas.getBoundingClientRect();
      selected = [
        k,
        Math.floor(((e.clientY - r.top) / r.height) * nH),
        Math.floor(((e.clientX - r.left) / r.width) * nW),
      ];
      renderConvMarks();
      renderGrad();
      renderTiming();
    });
    const cap = document.createElement("figcaption");
    cap.textContent = `${name} → Z[0,:,:,${k}] ${nH}×${nW}`;
    fig.append(canvas, cap);
    maps.append(fig);
  });
}

function renderConvMarks(): void {
  document.querySelectorAll<HTMLCanvasElement>("#maps canvas").forEach((canvas) => {
    const k = Number(canvas.dataset.k);
    drawHeat(canvas, channel(Z, k), selected[0] === k ? [selected[1], selected[2]] : undefined);
  });
}

let pooled: { A_prev: NDArray; cache: [NDArray, { f: number; stride: number }]; shape: number[] } | null = null;
// (the page's pooling hyperparameters are plain numbers; the cache keeps the object it was given)
function renderPool(): void {
  const A_prev = new NDArray(Z.data, [1, Z.shape[1], Z.shape[2], 1], Z.strides, Z.offset); // channel 0, a view
  const hp = { f: num("pool-f"), stride: num("pool-stride") };
  drawHeat($("pool-in"), channel(A_prev, 0));
  if (hp.f > Math.min(Z.shape[1], Z.shape[2])) {
    pooled = null;
    return;
  }
  const [Amax, c] = pool_forward(A_prev, hp, "max");
  const [Aavg] = pool_forward(A_prev, hp, "average");
  drawHeat($("pool-max"), channel(Amax, 0));
  drawHeat($("pool-avg"), channel(Aavg, 0));
  pooled = { A_prev, cache: [c[0], hp], shape: [...Amax.shape] };
}

function renderGrad(): void {
  const [k, y, x] = selected;
  const dZ = zeros([...Z.shape]);
  dZ.set(0, y, x, k, 1);
  const [dA, dW] = conv_backward(dZ, cache);
  drawHeat($("grad-da"), sumChannels(dA.index(0)));
  const dWk = new NDArray(dW.data, [3, 3, 3], dW.strides.slice(0, 3), k); // dW[:,:,:,k], a view
  drawHeat($("grad-dw"), sumChannels(dWk));
  let poolText = "";
  if (pooled) {
    const [, pH, pW] = pooled.shape;
    const [py, px] = [
      Math.min(pH - 1, Math.floor(y / pooled.cache[1].stride)),
      Math.min(pW - 1, Math.floor(x / pooled.cache[1].stride)),
    ];
    const dA_pool = zeros(pooled.shape);
    dA_pool.set(0, py, px, 0, 1);
    const dPrev = pool_backward(dA_pool, pooled!.cache, "max");
    drawHeat($("grad-pool"), channel(dPrev, 0), [y, x]);
    poolText = `; pool cell (${py}, ${px}) of the max-pooled map 1`;
  }
  $("grad-cell").textContent = `Cell Z[0, ${y}, ${x}, ${k}] = ${Z.get(0, y, x, k).toFixed(4)}${poolText}.`;
}

// ---------- the sliding window ----------
const PATCH = 6;
let winStep = 0;
let outputs: number[] = [];
function windowData(): { P: NDArray; kern: NDArray; nH: number; nW: number; s: number } {
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
  const n = Math.floor((PATCH + 2 - 3) / s) + 1;
  return { P, kern, nH: n, nW: n, s };
}

function cells(values: number[][], cls: (i: number, j: number) => string = () => ""): string {
  return values
    .map((row, i) => `<tr>${row.map((v, j) => `<td class="${cls(i, j)}">${v.toFixed(2)}</td>`).join("")}</tr>`)
    .join("");
}

function renderWindow(): void {
  const { P, kern, nH, nW, s } = windowData();
  const pos = winStep % (nH * nW);
  if (pos === 0) outputs = [];
  const [oh, ow] = [Math.floor(pos / nW), pos % nW];
  const [r0, c0] = [oh * s, ow * s];
  const grid = P.index(0).toNested() as number[][][];
  const size = PATCH + 2;
  $("grid").innerHTML = cells(
    grid.map((row) => row.map((v) => v[0])),
    (i, j) =>
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
  $("win-slice").innerHTML = cells((slice.toNested() as number[][][]).map((r) => r.map((v) => v[0])));
  $("win-filter").innerHTML = cells((kern.toNested() as number[][][]).map((r) => r.map((v) => v[0])));
  $("win-value").textContent = value.toFixed(4);
  $("win-out").innerHTML = cells(
    Array.from({ length: nH }, (_, i) => Array.from({ length: nW }, (_, j) => outputs[i * nW + j] ?? NaN)),
    (i, j) => (i * nW + j === pos ? "win" : ""),
  ).replaceAll("NaN", "");
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
}

/**
 * Times every op on the page's current shapes: zero_pad here, the conv and pooling ops with
 * convwasm/bench's bench() (the same records as `npx convwasm bench`, beside the f64x2 ceiling).
 */
async function runBenchmark(): Promise<void> {
  benchmark([["zero_pad", () => zero_pad(X, num("pad"))]]);
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
    const { f, stride } = pooled.cache[1];
    for (const mode of ["max", "average"] as const) {
      specs.push({ kind: "pool", name: "page", A: [...pooled.A_prev.shape], f, stride, mode, backward: true });
    }
  }
  const records = await bench(specs, { threads: [1], seconds: 0.2, rounds: 1 });
  for (const r of records) {
    const name = r.op.startsWith("pool") ? `${r.op} ${r.shape.split(" ").pop()}` : r.op;
    const rate = r.gflop > 0 ? `${r.gflops.toFixed(1)} · ${r.percentOfCeiling.toFixed(0)}%` : "";
    timings.set(name, { ms: r.minMs, calls: r.samples, rate });
  }
  renderTiming();
}

// ---------- wiring ----------
function renderAll(): void {
  renderPad();
  renderConv();
  renderPool();
  renderGrad();
  renderWindow();
  renderTiming();
}

async function main(): Promise<void> {
  const t0 = performance.now();
  await init();
  readyText = `convwasm ready in ${(performance.now() - t0).toFixed(0)} ms`;
  await loadPicture(new URL("./picture.png", import.meta.url).href);
  $("pad").addEventListener("input", () => (renderPad(), renderTiming()));
  for (const id of ["bank", "stride", "conv-pad"]) {
    $(id).addEventListener("change", () => {
      if (id === "bank") randomSeed++;
      renderConv();
      renderPool();
      renderGrad();
      winStep = 0;
      renderWindow();
      renderTiming();
    });
  }
  for (const id of ["pool-f", "pool-stride"])
    $(id).addEventListener("change", () => (renderPool(), renderGrad(), renderTiming()));
  $("win-stride").addEventListener("change", () => ((winStep = 0), renderWindow()));
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
  play(true);
  await runBenchmark();
  document.body.dataset.ready = "true";
}

main().catch((e: unknown) => {
  $("status").textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
  console.error(e);
});
