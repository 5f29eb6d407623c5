// deno-lint-ignore-file no-explicit-any -- parsed JSON and foreign servers' shapes, read loosely on purpose
/**
 * What the runtime's own "stop accepting" call does to a kept-alive connection that is idle between
 * two requests (no serve-gracefully involved). Run: bun bench/probe/stop-semantics.ts |
 * deno run -A bench/probe/stop-semantics.ts. Prints, for the connection: closed by the server at
 * stop (and how long after), and whether a request written 20 ms after stop is served.
 */
import net from "node:net";
const g = globalThis as any;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const handler = () => new Response("hello");
let server: any, stop: () => Promise<unknown>, port: number;
if (g.Bun) {
  server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
  port = server.port;
  stop = () => server.stop();
} else {
  server = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  port = server.addr.port;
  stop = () => server.shutdown();
}
const socket = net.connect({ port, host: "127.0.0.1" });
let data = "", closedAt = 0, error = "";
socket.setEncoding("utf8");
socket.on("data", (c: string) => (data += c));
socket.on("close", () => (closedAt = performance.now()));
socket.on("error", (e: any) => (error = e.code ?? e.message));
await new Promise((r) => socket.once("connect", r));
socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
while (!data.includes("hello")) await sleep(5);
const t0 = performance.now();
const stopped = stop().then(() => performance.now() - t0);
await sleep(20);
socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
await sleep(300);
console.log(JSON.stringify({
  runtime: g.Bun ? "bun" : "deno",
  stopResolvedAfterMs: await Promise.race([stopped, sleep(1000).then(() => "not within 1 s")]),
  idleConnectionClosedByStopAfterMs: closedAt ? Math.round(closedAt - t0) : null,
  clientError: error || null,
  secondRequestServed: (data.match(/hello/g) ?? []).length === 2,
}));
socket.destroy();
g.Bun ? process.exit(0) : g.Deno.exit(0);
