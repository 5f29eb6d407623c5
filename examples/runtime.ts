/**
 * What `import ... from "serve-gracefully"` does through export conditions, done here by hand so
 * the examples run from this repository unchanged on Node (tsx), Bun and Deno.
 */
import type * as Adapter from "../adapters/node.ts";

const g = globalThis as Record<string, unknown>;
export const runtimeName: "deno" | "bun" | "node" = "Deno" in g ? "deno" : "Bun" in g ? "bun" : "node";

const adapter: typeof Adapter = runtimeName === "deno"
  ? await import("../adapters/deno.ts") as unknown as typeof Adapter
  : runtimeName === "bun"
  ? await import("../adapters/bun.ts") as unknown as typeof Adapter
  : await import("../adapters/node.ts");

export const { serveGracefully, lifecycle, createLifecycle, endOnDrain } = adapter;
