// examples/server's service() over onnxruntime (bench/server/ort.ts): ORT=web (default) or node,
// MODEL=path.onnx (with its JSON), WORKERS (default 2), PORT. SIGTERM closes it as the example does.
import { service } from "../../examples/server/server.js";
import { ortServed } from "./ort.js";

const kind = process.env.ORT === "node" ? "node" : "web";
const model = await ortServed(process.env.MODEL!, kind, Number(process.env.WORKERS ?? 2));
const { server, close } = service(model, {});
const port = Number(process.env.PORT ?? 8080);
server.listen(port, () => {
  const address = server.address();
  const at = typeof address === "object" && address ? address.port : port;
  console.log(`${model.name} on http://localhost:${at}`);
});
process.once("SIGTERM", () => void close().then(() => process.exit(0)));
