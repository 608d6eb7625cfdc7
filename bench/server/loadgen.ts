// The load generator of bench/server.ts, in its own process: N POST /predict requests of real-looking
// digits at a given concurrency (keep-alive connections), and meanwhile a GET /health probe every 20 ms
// on its own connection. Prints one JSON line: requests/s, latency p50/p99, the probe's p50/p99.
import { Agent, request } from "node:http";

const [url, n, concurrency] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const { hostname, port } = new URL(url);
const load = new Agent({ keepAlive: true, maxSockets: concurrency });
const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });

function call(agent: Agent, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      { hostname, port, method, path, agent, headers: { "content-type": "application/json" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// 16 different pictures: a stroke at different places
const bodies = Array.from({ length: 16 }, (_, k) =>
  JSON.stringify({
    image: Array.from({ length: 784 }, (_, i) => {
      const [r, c] = [Math.floor(i / 28), i % 28];
      return Math.abs(c - 8 - k) < 2 && r > 4 && r < 24 ? 0.9 : 0;
    }),
  }),
);

const pct = (a: number[], p: number) => a.sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
const latencies: number[] = [];
const probes: number[] = [];
let probing = true;
const probe = (async () => {
  while (probing) {
    probes.push(await call(probeAgent, "GET", "/health"));
    await new Promise((r) => setTimeout(r, 20));
  }
})();
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      latencies.push(await call(load, "POST", "/predict", bodies[i % bodies.length]));
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
probing = false;
await probe;
console.log(
  JSON.stringify({
    rps: n / seconds,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    healthP50: pct(probes, 0.5),
    healthP99: pct(probes, 0.99),
  }),
);
load.destroy();
probeAgent.destroy();
