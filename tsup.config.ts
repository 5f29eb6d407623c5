import { defineConfig } from "tsup";

// One entry per adapter; the core is shared between them as a chunk (ESM) or inlined (CJS).
export default defineConfig({
  entry: { node: "adapters/node.ts", bun: "adapters/bun.ts", deno: "adapters/deno.ts" },
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  target: "es2022",
  platform: "neutral",
  external: ["@hono/node-server", "hono", /^node:/],
  sourcemap: false,
  splitting: true,
  treeshake: true,
});
