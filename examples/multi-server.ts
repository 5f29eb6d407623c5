/**
 * One process, many parts: a database pool, an API server and a metrics server. They start in
 * order (the API takes no request before the pool is up) and one signal drains both servers, then
 * closes the pool. Run: node --import tsx examples/multi-server.ts |
 * node_modules/.bin/bun examples/multi-server.ts | node_modules/.bin/deno run -A examples/multi-server.ts.
 * HOST and PORT choose the API's address, METRICS_PORT the metrics server's port (default 9090).
 */
import { Hono } from "hono";
import { hostname, portFrom } from "./address.ts";
import { lifecycle, serveGracefully } from "./runtime.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Stands in for a real pool (pg, mysql2, ...): connect on start, drain and end on stop.
const pool = {
  connected: false,
  async connect() {
    await sleep(100);
    this.connected = true;
  },
  async end() {
    await sleep(50);
    this.connected = false;
  },
  async query(sql: string) {
    if (!this.connected) throw new Error("pool is not connected");
    await sleep(20);
    return [{ sql }];
  },
};

lifecycle.add({
  name: "db",
  start: () => pool.connect(),
  stop: () => pool.end(),
  timeout: 3_000,
  // /readyz?verbose shows "[+]db ok" while this resolves, "[-]db failed: <message>" when it throws.
  check: () => pool.query("select 1"),
});

const api = new Hono();
let served = 0;
// Hono runs a middleware only for routes registered after it: count first, then the routes.
api.use(async (_c, next) => {
  served++;
  await next();
});
api.get("/users", async (c) => c.json(await pool.query("select * from users")));

const metrics = new Hono();
metrics.get("/metrics", (c) => c.text(`http_requests_total ${served}\n`));

serveGracefully(api, { hostname, port: portFrom("PORT", 3000), name: "api" });
serveGracefully(metrics, { hostname, port: portFrom("METRICS_PORT", 9090), name: "metrics", health: false });
