// The load generator of bench/server.ts, in a process of its own: autocannon's API (its command line
// reads a body file as text, which mangles a JPEG) posting one body file at a concurrency for a time.
// Prints autocannon's result as JSON.
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

const [url, file, type, concurrency, seconds] = process.argv.slice(2);
const result = await autocannon({
  url,
  method: "POST",
  headers: { "content-type": type },
  body: readFileSync(file),
  connections: Number(concurrency),
  duration: Number(seconds),
});
console.log(JSON.stringify(result));
