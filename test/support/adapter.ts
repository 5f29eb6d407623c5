/**
 * The adapter of the runtime that runs this file, for fixtures that run unchanged on Node (tsx),
 * Bun and Deno: what the package's export conditions pick, chosen here from the sources.
 */
import type * as NodeAdapter from "../../adapters/node.ts";

export type RuntimeName = "node" | "bun" | "deno";

const globals = globalThis as Record<string, unknown>;
export const runtimeName: RuntimeName = "Deno" in globals ? "deno" : "Bun" in globals ? "bun" : "node";

// The adapters export the same names; Node's types stand for all three (their extra options differ).
const loaders: Record<RuntimeName, () => Promise<unknown>> = {
  node: () => import("../../adapters/node.ts"),
  bun: () => import("../../adapters/bun.ts"),
  deno: () => import("../../adapters/deno.ts"),
};
const adapter = (await loaders[runtimeName]()) as typeof NodeAdapter;

export const { serveGracefully, lifecycle, createLifecycle, endOnDrain } = adapter;
