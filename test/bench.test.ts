// convwasm/bench and `convwasm bench`: the command line's parsing, the records bench() returns, and the
// installed package's command (the packed tarball in an empty project, as a user installs it).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bench, formatRecords, parseBenchArgs, STANDARD } from "convwasm/bench";

describe("convwasm bench: arguments", () => {
  it("no shape: the standard set, with the options", () => {
    const a = parseBenchArgs(["--threads", "1,2", "--repeat", "3", "--seconds", "0.5", "--json"]);
    expect(a).toEqual({ specs: undefined, options: { threads: [1, 2], repeat: 3, seconds: 0.5 }, json: true });
    expect(STANDARD.map((s) => s.name)).toEqual([
      "notebook",
      "notebook",
      "resnet56",
      "resnet56",
      "signs",
      "dw56s2",
      "max2x2",
      "digits",
      "digits",
    ]);
    expect(STANDARD.filter((s) => "precision" in s && s.precision === "f32").map((s) => s.kind)).toEqual([
      "conv",
      "digits",
    ]);
  });

  it("conv, pool and digits shapes with every option", () => {
    expect(
      parseBenchArgs([
        "conv",
        "8x56x56x64",
        "3x3x64x64",
        "--stride",
        "1",
        "--pad",
        "same",
        "--threads",
        "1,2",
        "--backward",
      ]),
    ).toEqual({
      specs: [
        {
          kind: "conv",
          name: "conv",
          A: [8, 56, 56, 64],
          W: [3, 3, 64, 64],
          stride: 1,
          pad: "same",
          dilation: 1,
          groups: 1,
          backward: true,
          precision: "f64",
        },
      ],
      options: { threads: [1, 2] },
      json: false,
    });
    expect(
      parseBenchArgs([
        "conv",
        "1x32x32x8",
        "3x3x1x8",
        "--groups",
        "8",
        "--dilation",
        "2x1",
        "--pad",
        "1x2",
        "--stride",
        "2x1",
      ]).specs,
    ).toEqual([
      {
        kind: "conv",
        name: "conv",
        A: [1, 32, 32, 8],
        W: [3, 3, 1, 8],
        stride: [2, 1],
        pad: [1, 2],
        dilation: [2, 1],
        groups: 8,
        backward: false,
        precision: "f64",
      },
    ]);
    expect(parseBenchArgs(["pool", "8x112x112x64", "--f", "2", "--stride", "2", "--mode", "max"]).specs).toEqual([
      { kind: "pool", name: "pool", A: [8, 112, 112, 64], f: 2, stride: 2, pad: 0, mode: "max", backward: false },
    ]);
    expect(parseBenchArgs(["digits", "--batch", "1"]).specs).toEqual([
      { kind: "digits", name: "digits", batch: 1, precision: "f64" },
    ]);
    expect(parseBenchArgs(["digits", "--precision", "f32"]).specs).toEqual([
      { kind: "digits", name: "digits", batch: 64, precision: "f32" },
    ]);
    expect(parseBenchArgs(["conv", "1x4x4x3", "2x2x3x8", "--algorithm", "direct"]).specs).toHaveLength(1);
    expect(parseBenchArgs(["conv", "1x4x4x3", "3x3x3x8", "--algorithm", "direct,winograd"]).options.algorithms).toEqual(
      ["direct", "winograd"],
    );
  });

  it("bad arguments say what was expected", () => {
    const bad: [string[], string][] = [
      [["conv", "8x56", "3x3x64x64"], "convwasm bench: conv A expects 4 dimensions like 8x56x56x64 but got 8x56"],
      [["pool", "1x8x8x2", "--mode", "min"], "convwasm bench: --mode expects max or average but got min"],
      [["matmul"], "convwasm bench: expects conv, pool or digits but got matmul"],
      [["--threads", "0,2"], "convwasm bench: --threads expects counts like 1,2 but got 0,2"],
      [["--seconds"], "convwasm bench: --seconds expects a value"],
      [["--fast", "1"], "convwasm bench: unknown option --fast"],
      [["digits", "--precision", "f16"], "convwasm bench: --precision expects f64 or f32 but got f16"],
      [["pool", "1x8x8x2", "--precision", "f32"], "convwasm bench: --precision f32 is for conv and digits"],
      [["conv", "1x8x8x2", "3x3x2x2", "--precision", "f32", "--backward"], "no --backward, no --algorithm"],
      [
        ["--algorithm", "direct,fft"],
        "convwasm bench: --algorithm expects auto, direct or winograd (or a list like direct,winograd) but got direct,fft",
      ],
    ];
    for (const [args, message] of bad) expect(() => parseBenchArgs(args)).toThrow(message);
  });
});

describe("bench(): records", () => {
  it("a 3×3 stride-1 layer with each algorithm (Winograd's GFLOP/s counted as the direct loops' work); a 5×5 one with Winograd forward only; a strided one without", async () => {
    const records = await bench(
      [
        { kind: "conv", name: "3x3", A: [1, 16, 16, 32], W: [3, 3, 32, 32], stride: 1, pad: 1, backward: true },
        { kind: "conv", name: "5x5", A: [1, 12, 12, 4], W: [5, 5, 4, 4], stride: 1, pad: 2, backward: true },
        { kind: "conv", name: "s2", A: [1, 12, 12, 4], W: [3, 3, 4, 4], stride: 2, pad: 1 },
      ],
      { threads: [1], algorithms: ["direct", "winograd"], seconds: 0.05, rounds: 1, repeat: 2 },
    );
    expect(records.map((r) => `${r.name} ${r.op} ${r.algorithm}`)).toEqual([
      "3x3 conv_forward direct",
      "3x3 conv_backward direct",
      "3x3 conv_forward winograd",
      "3x3 conv_backward winograd",
      "5x5 conv_forward direct",
      "5x5 conv_backward direct",
      "5x5 conv_forward winograd",
      "s2 conv_forward direct",
    ]);
    const [direct, , winograd] = records;
    expect(winograd.gflop).toBe(direct.gflop);
    expect(formatRecords(records)).toMatch(/3x3 conv_forward \(winograd\)/);
    await expect(bench([], { algorithms: ["fft" as never] })).rejects.toThrow(
      'bench: options.algorithms[] expects "auto", "direct" or "winograd" but got string fft',
    );
  });

  it("a conv and a pool layer on 1 and 2 threads: times, GFLOP/s, % of the ceiling, speed-up, noise", async () => {
    const lines: string[] = [];
    const records = await bench(
      [
        { kind: "conv", name: "small", A: [2, 16, 16, 8], W: [3, 3, 8, 16], pad: "same", backward: true },
        { kind: "pool", name: "p", A: [2, 16, 16, 8], f: 2 },
      ],
      { threads: [1, 2], seconds: 0.2, rounds: 2, onProgress: (l) => lines.push(l) },
    );
    expect(records.map((r) => `${r.name} ${r.op} ${r.threads}`)).toEqual([
      "small conv_forward 1",
      "small conv_forward 2",
      "small conv_backward 1",
      "small conv_backward 2",
      "p pool_forward 1",
      "p pool_forward 2",
    ]);
    for (const r of records) {
      expect(r.minMs).toBeGreaterThan(0);
      expect(r.medianMs).toBeGreaterThanOrEqual(r.minMs);
      expect(r.spread).toBeCloseTo(r.medianMs / r.minMs - 1, 12);
      expect(r.noisy).toBe(r.spread > 0.15);
      expect(r.ceilingGflops).toBeGreaterThan(0);
      expect(r.samples).toBeGreaterThanOrEqual(4);
    }
    const conv = records[0];
    expect(conv.gflop).toBeCloseTo((2 * 2 * 16 * 16 * 16 * 9 * 8) / 1e9, 12);
    expect(conv.gflops).toBeCloseTo(conv.gflop / (conv.minMs / 1000), 6);
    expect(conv.percentOfCeiling).toBeCloseTo((100 * conv.gflops) / conv.ceilingGflops, 6);
    expect(records[1].speedup).toBeCloseTo(records[0].minMs / records[1].minMs, 12);
    expect(records[4].gflop).toBe(0); // pooling: no flops counted
    expect(lines.length).toBeGreaterThan(0);
    const text = formatRecords(records);
    expect(text).toMatch(
      /^small conv_forward +1t +[\d.]+ (ms|µs) min, [\d.]+ (ms|µs) median +[\d.]+ GFLOP\/s +\d+% of ceiling/,
    );
    expect(text).toMatch(/ceiling \(multiply-add, one thread\): f64x2 [\d.]+ GFLOP\/s, f32x4 [\d.]+ GFLOP\/s/);
  });

  it("float32 plans: a conv layer and the digits network, each against the f32x4 line of the ceiling", async () => {
    const records = await bench(
      [
        { kind: "conv", name: "c", A: [2, 12, 12, 8], W: [3, 3, 8, 16], stride: 2, pad: 1, precision: "f32" },
        { kind: "digits", name: "d", batch: 2, precision: "f32" },
      ],
      { threads: [1], seconds: 0.05, rounds: 1, repeat: 2 },
    );
    expect(records.map((r) => `${r.name} ${r.op} ${r.precision}`)).toEqual(["c conv_forward f32", "d predict f32"]);
    for (const r of records) {
      expect(r.ceilingGflops).toBe(r.ceilings.f32);
      expect(r.ceilings.f64).toBeGreaterThan(0);
      expect(r.percentOfCeiling).toBeCloseTo((100 * r.gflops) / r.ceilings.f32, 6);
    }
    expect(records[0].gflop).toBeCloseTo((2 * 2 * 6 * 6 * 16 * 9 * 8) / 1e9, 12);
    expect(formatRecords(records)).toMatch(/^c conv_forward \(f32 plan\) +1t /m);
  });
});

describe("the installed package's command", () => {
  it("npx convwasm bench (the packed tarball in an empty project): the standard set and the shape forms", () => {
    const root = new URL("..", import.meta.url).pathname;
    const dir = mkdtempSync(join(tmpdir(), "convwasm-bench-"));
    try {
      execFileSync("npm", ["pack", "--pack-destination", dir], { cwd: root, stdio: "pipe" });
      const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "user", private: true }));
      execFileSync("npm", ["install", "--no-audit", "--no-fund", join(dir, tarball)], { cwd: dir, stdio: "pipe" });
      const run = (...args: string[]) =>
        execFileSync("npx", ["convwasm", "bench", ...args], {
          cwd: dir,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
      const standard = run("--seconds", "0.05", "--threads", "1");
      expect(standard).toMatch(/^notebook conv_forward +1t /m);
      expect(standard).toMatch(/^digits training step +1t /m);
      expect(run("conv", "1x16x16x8", "3x3x8x8", "--pad", "same", "--backward", "--seconds", "0.05")).toMatch(
        /^conv conv_backward/m,
      );
      expect(run("pool", "1x16x16x8", "--f", "2", "--seconds", "0.05")).toMatch(/^pool pool_forward/m);
      const json = run("digits", "--batch", "2", "--seconds", "0.05", "--threads", "1", "--json")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(json.map((r: { op: string }) => r.op)).toEqual(["predict", "training step"]);
      // an ONNX file (the digits network's export), without onnxruntime-web in the project
      copyFileSync(new URL("./fixtures/onnx/digits.f32.onnx", import.meta.url), join(dir, "digits.onnx"));
      const onnx = run("digits.onnx", "--batch", "2", "--repeat", "1", "--threads", "1");
      expect(onnx).toMatch(
        /^load [\d.]+ ms, first predict [\d.]+ ms \(2,838,080 multiply-adds an example; input \[m,1,28,28\]\)/,
      );
      expect(onnx).toMatch(/^\| convwasm \(float64\) \| 1 \| 2 \| [\d.]+ \| \d+ \|$/m);
      expect(onnx).toMatch(/^onnxruntime-web: not compared \(/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
