import { readdir, readFile, writeFile } from "node:fs/promises";
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

/**
 * The JavaScript builds are minified, names too: what a runtime parses and compiles before the
 * first answer is what the command's cold start costs. On Bun, over `bun run`: +16.3 -> +13.1 ms
 * (CPU +15.2 -> +12.7; 50 interleaved starts, 2026-12-06; the command against itself measures
 * 0.2-1.1 ms apart); whitespace and syntax alone, names kept: +15.5 ms, within that floor. The errors the library throws name themselves (`name` is set, not taken from the
 * class), and the TypeScript sources are in the repository and the JSR package.
 */
const minified: Options = { ...shared, dts: false, minify: true, splitting: true, treeshake: true };

/** Puts `// @bun` first in every ESM file (after the bin's shebang); the treeshake pass drops esbuild's banner. */
async function markPlainForBun(): Promise<void> {
  for (const name of await readdir("dist")) {
    if (!name.endsWith(".js")) continue;
    const file = `dist/${name}`;
    const text = await readFile(file, "utf8");
    if (/^(#![^\n]*\n)?\/\/ @bun\n/.test(text)) continue;
    const shebang = /^#![^\n]*\n/.exec(text)?.[0] ?? "";
    await writeFile(file, `${shebang}// @bun\n${text.slice(shebang.length)}`);
  }
}

export default defineConfig([
  // JavaScript: one entry per adapter; the core is shared between them as a chunk (ESM) or inlined (CJS).
  // The command (dist/cli.js, the package's bin) is ESM only and loads its runtime's adapter chunk.
  // `// @bun` (what `bun build --target=bun` writes) tells Bun the file is plain JavaScript it may
  // run without its transpiler: with the transpiler cache empty, as in a new container, the command
  // started +42 ms after `bun run`, now +18 (docs/cli.md#cold-start). Node and Deno read a comment.
  { ...minified, format: ["esm"], entry: { ...adapters, cli: "adapters/cli.ts" }, onSuccess: markPlainForBun },
  { ...minified, format: ["cjs"], entry: adapters },
  // Declarations: one build per adapter, so each .d.ts holds every type it names under its own
  // name (a shared chunk would export them under one-letter aliases, and hovers would show those).
  ...Object.entries(adapters).map(([name, file]): Options => ({ ...shared, entry: { [name]: file }, dts: { only: true } })),
]);
