/**
 * The demo app, the same on every runtime: a fast route, a slow one, an acknowledged write that
 * finishes in the background (waitUntil), and an SSE stream that ends cleanly on shutdown.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `shutdownSignal` is the lifecycle's signal: aborted the moment the drain starts. */
export function createApp(shutdownSignal: () => AbortSignal): Hono {
  const app = new Hono();
  app.get("/", (c) => c.text("Hello from serve-gracefully. Try /slow, POST /write, /events; then Ctrl+C.\n"));
  app.get("/slow", async (c) => {
    await sleep(Number(c.req.query("ms") ?? 2_000));
    return c.text("done, even though you pressed Ctrl+C\n");
  });
  app.post("/write", (c) => {
    // Acknowledge now, write later: the drain waits for it, as on Cloudflare Workers.
    c.executionCtx.waitUntil(sleep(1_500).then(() => console.log("background write finished")));
    return c.text("accepted\n", 202);
  });
  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      const signal = shutdownSignal();
      for (let i = 0; !signal.aborted && !stream.aborted && i < 10_000; i++) {
        await stream.writeSSE({ event: "tick", data: String(i) });
        await Promise.race([sleep(1_000), new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
      }
      await stream.writeSSE({ event: "bye", data: "server is shutting down" });
    }));
  return app;
}
