/**
 * The request path's own cost, without the network: the same Hono app called directly
 * (`app.fetch(request)`) and through src/request/handler.ts's createHandler (health-path check, shared
 * executionCtx, inFlight counters; not draining), alternated in batches, on whichever runtime runs it.
 *
 *   node --import tsx bench/handler-micro.ts | bun bench/handler-micro.ts | deno run -A bench/handler-micro.ts
 *   [--batch N] [--rounds N]   requests per timed batch (default 20000), alternated rounds (default 15)
 *
 * Prints ns per request for each and the difference; set that against 1/throughput (about 12 µs
 * per request at 80k req/s) to see what share of a request the wrapper is.
 */
import { parseArgs } from "node:util";
import { integerFlag } from "./lib/flags.ts";
import { Hono } from "hono";
import { ServerTraffic } from "../src/drain/traffic.ts";
import { asksToClose, createHandler } from "../src/request/handler.ts";
import type { TaskTracker } from "../src/drain/tasks.ts";

const app = new Hono();
app.get("/", (c) => c.text("Hello, bench!"));
const tasks = { add() {} } as unknown as TaskTracker;
const make = (health: { ready: string | false; live: string | false }) =>
  createHandler({
    app,
    health,
    traffic: new ServerTraffic(),
    tasks,
    closeConnectionAfter: (r) => r,
    asksToClose: asksToClose,
    watchDelivery() {},
    onHandlerError() {},
  });
const variants: Record<string, (request: Request) => Response | Promise<Response>> = {
  "app.fetch (bare)": (request) => app.fetch(request),
  "createHandler, health on": make({ ready: "/readyz", live: "/livez" }) as (r: Request) => Response | Promise<Response>,
  "createHandler, health off": make({ ready: false, live: false }) as (r: Request) => Response | Promise<Response>,
};

const { values } = parseArgs({
  strict: true,
  options: { batch: { type: "string", default: "20000" }, rounds: { type: "string", default: "15" } },
});
const BATCH = integerFlag("batch", values.batch, 20_000, 1, 10_000_000);
const ROUNDS = integerFlag("rounds", values.rounds, 15, 1, 1_000);
const urls = Array.from({ length: 64 }, (_, i) => `http://127.0.0.1:3000/?i=${i}`);
async function batch(fn: (request: Request) => Response | Promise<Response>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < BATCH; i++) {
    const response = fn(new Request(urls[i & 63]!));
    if (response instanceof Promise) await response;
  }
  return ((performance.now() - t0) * 1e6) / BATCH; // ns per request
}
const names = Object.keys(variants);
const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (const n of names) await batch(variants[n]!); // warm-up (JIT)
for (let r = 0; r < ROUNDS; r++) {
  for (let j = 0; j < names.length; j++) {
    const n = names[(r + j) % names.length]!;
    samples[n]!.push(await batch(variants[n]!));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const g = globalThis as Record<string, unknown>;
const runtime = "Deno" in g ? "deno" : "Bun" in g ? "bun" : "node";
const base = median(samples[names[0]!]!);
for (const n of names) {
  const m = median(samples[n]!);
  console.log(
    `${runtime} ${n.padEnd(27)} ${m.toFixed(0).padStart(6)} ns/request  (${m - base >= 0 ? "+" : ""}${(m - base).toFixed(0)} ns)`,
  );
}
