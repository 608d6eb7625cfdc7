// A fresh app's entry: imports the packed package by name, as a user's bundler sees it.
import { init, random, conv_forward, memory } from "convwasm";
import { replayNotebook, formatChecks } from "convwasm/notebook";

async function main() {
  await init();
  random.seed(1);
  const A = random.randn(10, 4, 4, 3);
  const W = random.randn(2, 2, 3, 8);
  const b = random.randn(1, 1, 1, 8);
  const [Z] = conv_forward(A, W, b, { stride: 2, pad: 2 });
  const checks = await replayNotebook();
  document.getElementById("out").textContent = formatChecks(checks);
  return {
    zMean: Z.mean(),
    z321: Array.from(Z.index(3, 2, 1).toFloat64Array()),
    checks: checks.map((c) => ({ label: `${c.cell}: ${c.label}`, ok: c.ok })),
    arenaBytesInUse: memory().arenaBytesInUse,
  };
}

main().then(
  (result) => (window.__result = result),
  (e) => (window.__result = { error: String(e && e.stack ? e.stack : e) }),
);
