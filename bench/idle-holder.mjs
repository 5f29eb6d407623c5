/**
 * Holds N idle keep-alive connections to 127.0.0.1:PORT in a process of its own, so that when the
 * server closes them, handling thousands of socket closes does not delay the bench's own view of
 * the server's exit. Each connection sends one `GET /` (keep-alive) and reads the response, then idles.
 *
 *   node bench/idle-holder.mjs --port PORT --connections N
 * Plain JavaScript (type-checked through JSDoc) so that it starts without a compiler: the bench
 * starts one per measured exit.
 * stdout: {"ready":N} once every connection has its response; then, for each "status" line on
 * stdin, {"open":K}. Exits when stdin closes (or the bench kills it). Needs N + a few open files
 * (the bench raises the limit).
 */
import net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { port: { type: "string" }, connections: { type: "string" }, batch: { type: "string", default: "250" } },
  strict: true,
});
const port = Number(values.port);
const n = Number(values.connections);
const batch = Number(values.batch);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error("--port must be 1-65535");
if (!Number.isInteger(n) || n < 1 || n > 60_000) throw new Error("--connections must be 1-60000");
if (!Number.isInteger(batch) || batch < 1 || batch > 5_000) throw new Error("--batch must be 1-5000");
let open = 0;

/** @returns {Promise<net.Socket>} */
function one() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no response within 10 s"));
    }, 10_000);
    let got = "";
    let counted = false;
    socket.on("error", () => {}); // a reset at shutdown is expected
    socket.once("close", () => counted && open--);
    socket.on("connect", () => socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`));
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      got += chunk.toString("latin1");
      if (!got.includes("Hello, bench!")) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.resume();
      counted = true;
      open++;
      resolve(socket);
    };
    socket.on("data", onData);
  });
}

try {
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, one));
  process.stdout.write(JSON.stringify({ ready: open }) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error instanceof Error ? error.message : error) }) + "\n");
  process.exit(1);
}
let buffer = "";
process.stdin.setEncoding("utf8").on("data", (/** @type {string} */ chunk) => {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) >= 0) {
    buffer = buffer.slice(nl + 1);
    process.stdout.write(JSON.stringify({ open }) + "\n");
  }
});
process.stdin.on("end", () => process.exit(0));
