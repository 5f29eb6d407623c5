/**
 * The benchmarked server: one of the apps in bench/apps/, served either bare or through
 * serveGracefully, on whichever runtime runs this file (bun, deno run -A; Node runs it bundled into
 * plain JavaScript, bench/lib/processes.ts, or with --import tsx from the sources).
 *
 *   BENCH_APP=one-route | realistic   which app (bench/apps/<name>.ts); default one-route
 *   BENCH_MODE=bare      @hono/node-server `serve`, `Bun.serve({ fetch: app.fetch })`, `Deno.serve(app.fetch)`
 *   BENCH_MODE=graceful  serveGracefully(app, { hostname, port: 0 }) from ../adapters/<runtime>.ts
 *                        (default options: default logger, signals, health paths, timeout)
 *
 * BENCH_SHUTDOWN (bare only) picks what a bare server does on SIGTERM:
 *   default     nothing is installed: the runtime's default action (the process dies on the signal)
 *   close       the minimal graceful baseline: on SIGTERM, Node `server.close(() => process.exit(0))`
 *               (Node >= 19 also closes idle keep-alive connections in close()), Bun
 *               `await server.stop(); process.exit(0)`, Deno `await server.shutdown(); Deno.exit(0)`
 *   exit-now    exit 0 at the signal, listener and connections left to the exit (bench/exit-anatomy.ts)
 *   close-now   start that close, then exit 0 in the same turn of the event loop
 *   close-next  start that close, then exit 0 on the next timer (one event-loop turn later)
 *
 * BENCH_WORKERS=N (N > 1): N worker processes on one port. graceful: serveGracefully's `workers: N`;
 * bare: node:cluster (Node) or N copies of this file listening with reusePort (Bun, Deno), see
 * bench/bare-workers.ts.
 *
 * For profiling: BENCH_OPTIONS is JSON merged into the serveGracefully options (e.g.
 * {"health":false}); BENCH_IMPORT=dist imports the built package (dist/<runtime>.js, what npm
 * users get) instead of adapters/<runtime>.ts.
 *
 * Prints one JSON line `{"bench":"listening","port":N}` once it listens on 127.0.0.1 (port 0).
 */
import type { Hono } from "hono";

// deno-lint-ignore no-explicit-any
const g = globalThis as Record<string, any>;
const runtime: "node" | "bun" | "deno" = "Deno" in g ? "deno" : "Bun" in g ? "bun" : "node";
const env = (name: string): string | undefined => (runtime === "deno" ? g.Deno.env.get(name) : g.process.env[name]);
const appName = env("BENCH_APP") || "one-route";
const mode = env("BENCH_MODE") ?? "bare";
const shutdown = env("BENCH_SHUTDOWN") ?? "close";
/** What a bare server does on SIGTERM, given the runtime's close and exit ("default": nothing installed). */
const ON_SIGTERM: Record<string, (close: () => Promise<void>, exit: () => void) => (() => void) | undefined> = {
  default: () => undefined,
  close: (close, exit) => () => void close().then(exit),
  "exit-now": (_close, exit) => exit,
  "close-now": (close, exit) => () => {
    void close();
    exit();
  },
  "close-next": (close, exit) => () => {
    void close();
    setTimeout(exit, 0);
  },
};
if (!Object.hasOwn(ON_SIGTERM, shutdown)) {
  throw new Error(`unknown BENCH_SHUTDOWN ${shutdown} (known: ${Object.keys(ON_SIGTERM).join(", ")})`);
}
const hostname = "127.0.0.1";
const workers = Number(env("BENCH_WORKERS") || "1");
/** A worker of the bare multi-process server (bench/bare-workers.ts), with the port to share. */
const bareWorker = env("BENCH_BARE_WORKER") === "1";
// A bare worker's line is its primary's to read: the bench waits for the primary's.
const listening = (port: number) =>
  console.log(JSON.stringify({ bench: bareWorker ? "worker.listening" : "listening", runtime, mode, app: appName, port }));

const { app } = (appName === "realistic" ? await import("./apps/realistic.ts") : await import("./apps/one-route.ts")) as { app: Hono };

if (mode === "graceful") {
  const dist = env("BENCH_IMPORT") === "dist";
  const { serveGracefully } = (dist
    ? await import(`../dist/${runtime}.js`)
    : runtime === "deno"
    ? await import("../adapters/deno.ts")
    : runtime === "bun"
    ? await import("../adapters/bun.ts")
    : await import("../adapters/node.ts")) as typeof import("../adapters/node.ts");
  // Parsed only when given: the bare side parses nothing, and a first JSON.parse cost a Deno worker 0.3 MiB.
  const options = env("BENCH_OPTIONS");
  const extra = options === undefined ? {} : JSON.parse(options);
  const server = serveGracefully(app, { hostname, port: 0, ...(workers > 1 && { workers }), ...extra });
  const info = await server.ready;
  // With workers, the primary's ready says every worker listens; the workers say nothing.
  if (env("SERVE_GRACEFULLY_WORKER") === undefined) {
    listening(info.port);
  }
} else if (workers > 1 && !bareWorker) {
  const { barePrimary } = await import("./bare-workers.ts");
  await barePrimary(workers, listening);
} else {
  // The bare server, with the runtime's own close (resolves once its connections are gone) and exit.
  let close: () => Promise<void>;
  const port = Number(env("BENCH_PORT") || "0");
  const reusePort = bareWorker ? { reusePort: true } : {};
  if (runtime === "node") {
    const { serve } = await import("@hono/node-server");
    const server = serve({ fetch: app.fetch, hostname, port }, (info) => listening(info.port));
    close = () => new Promise((resolve) => server.close(() => resolve()));
  } else if (runtime === "bun") {
    const server = g.Bun.serve({ fetch: app.fetch, hostname, port, ...reusePort });
    listening(server.port);
    close = () => server.stop();
  } else {
    const server = g.Deno.serve({ hostname, port, ...reusePort, onListen: ({ port }: { port: number }) => listening(port) }, app.fetch);
    close = () => server.shutdown();
  }
  const exit = () => (runtime === "deno" ? g.Deno.exit(0) : g.process.exit(0));
  const listener = ON_SIGTERM[shutdown]!(close, exit);
  if (listener !== undefined && runtime === "deno") g.Deno.addSignalListener("SIGTERM", listener);
  else if (listener !== undefined) g.process.on("SIGTERM", listener);
}
