import { defineConfig, type Options } from "tsup";

const adapters = { node: "adapters/node.ts", bun: "adapters/bun.ts", deno: "adapters/deno.ts" };
const shared: Options = {
  format: ["esm", "cjs"],
  // `npm run build` empties dist/ first: builds run in parallel, and one's clean would race the others.
  clean: false,
  target: "es2022",
  platform: "neutral",
  external: ["@hono/node-server", "hono", /^node:/],
  sourcemap: false,
};

export default defineConfig([
  // JavaScript: one entry per adapter; the core is shared between them as a chunk (ESM) or inlined (CJS).
  // The command (dist/cli.js, the package's bin) is ESM only and loads its runtime's adapter chunk.
  { ...shared, format: ["esm"], entry: { ...adapters, cli: "adapters/cli.ts" }, dts: false, splitting: true, treeshake: true },
  { ...shared, format: ["cjs"], entry: adapters, dts: false, splitting: true, treeshake: true },
  // Declarations: one build per adapter, so each .d.ts holds every type it names under its own
  // name (a shared chunk would export them under one-letter aliases, and hovers would show those).
  ...Object.entries(adapters).map(([name, file]): Options => ({ ...shared, entry: { [name]: file }, dts: { only: true } })),
]);
