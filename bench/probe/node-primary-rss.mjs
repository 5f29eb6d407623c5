// @ts-nocheck: plain JavaScript, run by node directly (no tsx, which the bench's primaries both load).
/**
 * RSS of a Node primary of two workers, ours against bare node:cluster, without tsx: the same
 * one-route app; each primary prints process.memoryUsage() 300 ms after both workers listen.
 *
 *   npm run build && for i in 1 2 3; do MODE=bare node bench/probe/node-primary-rss.mjs; MODE=graceful node bench/probe/node-primary-rss.mjs; done
 */
import cluster from "node:cluster";
import { Hono } from "hono";

const mode = process.env.MODE === "graceful" ? "graceful" : "bare";
const app = new Hono().get("/", (c) => c.text("hello"));
const mib = (bytes) => Math.round(bytes / 104857.6) / 10;
const report = () =>
  setTimeout(() => {
    const m = process.memoryUsage();
    console.log(JSON.stringify({ mode, rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), externalMiB: mib(m.external) }));
    process.exit(0);
  }, 300);

if (mode === "bare") {
  if (cluster.isPrimary) {
    let listening = 0;
    for (let i = 0; i < 2; i++) cluster.fork().once("listening", () => ++listening === 2 && report());
  } else {
    const { serve } = await import("@hono/node-server");
    serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  }
} else {
  const { serveGracefully } = await import("../../dist/node.js");
  serveGracefully(app, { workers: 2, port: 0, hostname: "127.0.0.1", logger: false, onListen: () => cluster.isPrimary && report() });
}
