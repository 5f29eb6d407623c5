/**
 * The server that scripts/measure-exit.ts stops: GET / -> "Hello, bench!" (what
 * bench/idle-holder.mjs expects), on whichever runtime runs this file, in one of three modes:
 *
 *   EXIT_MODE=graceful  serveGracefully(app, { hostname, port: 0 }) from ../adapters/<runtime>.ts
 *   EXIT_MODE=exit      the runtime's bare server; on SIGTERM it calls process.exit(0) / Deno.exit(0)
 *                       at once (the floor for a process that ends itself with its sockets open)
 *   EXIT_MODE=bare      the runtime's bare server, no handler (measure-exit sends SIGKILL: the floor
 *                       for the kernel alone)
 *
 * Prints `{"exitServer":"listening","port":N}` once it listens on 127.0.0.1.
 */
import { Hono } from "hono";

// deno-lint-ignore no-explicit-any
const g = globalThis as Record<string, any>;
const runtime: "node" | "bun" | "deno" = "Deno" in g ? "deno" : "Bun" in g ? "bun" : "node";
const mode = (runtime === "deno" ? g.Deno.env.get("EXIT_MODE") : g.process.env.EXIT_MODE) ?? "graceful";
const hostname = "127.0.0.1";
const listening = (port: number) => console.log(JSON.stringify({ exitServer: "listening", runtime, mode, port }));

const app = new Hono();
app.get("/", (c) => c.text("Hello, bench!"));

if (mode === "graceful") {
  const { serveGracefully } = (runtime === "deno"
    ? await import("../adapters/deno.ts")
    : runtime === "bun"
    ? await import("../adapters/bun.ts")
    : await import("../adapters/node.ts")) as typeof import("../adapters/node.ts");
  listening((await serveGracefully(app, { hostname, port: 0 }).ready).port);
} else if (runtime === "node") {
  const { serve } = await import("@hono/node-server");
  serve({ fetch: app.fetch, hostname, port: 0 }, (info) => listening(info.port));
  if (mode === "exit") g.process.on("SIGTERM", () => g.process.exit(0));
} else if (runtime === "bun") {
  listening(g.Bun.serve({ fetch: app.fetch, hostname, port: 0 }).port);
  if (mode === "exit") g.process.on("SIGTERM", () => g.process.exit(0));
} else {
  g.Deno.serve({ hostname, port: 0, onListen: ({ port }: { port: number }) => listening(port) }, app.fetch);
  if (mode === "exit") g.Deno.addSignalListener("SIGTERM", () => g.Deno.exit(0));
}
