#!/usr/bin/env node
/**
 * The second half of `npm run build`: dist/cli-bun.cjs and its bytecode, dist/cli-bun.cjs.jsc, the
 * command as Bun runs it (adapters/cli-bun.ts says why). Built by the Bun of devDependencies: its
 * bytecode serves that Bun version; another ignores it and parses the file. Fails when Bun writes
 * no bytecode (it skips a file that reads `import.meta`, without an error).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bun = path.join(ROOT, "node_modules/.bin/bun");
const args = [
  "build",
  "adapters/cli-bun.ts",
  "--target=bun",
  "--format=cjs",
  "--bytecode",
  "--minify",
  "--external=hono",
  "--external=@hono/node-server",
  "--outdir=dist",
  "--entry-naming=[name].cjs",
];
const built = spawnSync(bun, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
if (built.status !== 0) {
  console.error(`build-bun-command: bun ${args.join(" ")} failed (${built.error?.message ?? `exit ${built.status}`})`);
  process.exit(1);
}
const file = path.join(ROOT, "dist/cli-bun.cjs");
const text = existsSync(file) ? readFileSync(file, "utf8") : "";
if (!existsSync(`${file}.jsc`) || !text.startsWith("// @bun @bytecode @bun-cjs\n")) {
  console.error(
    "build-bun-command: Bun wrote no bytecode for dist/cli-bun.cjs (does adapters/cli-bun.ts, or what it imports, read import.meta?)",
  );
  process.exit(1);
}
// Bun's bundler writes a file's __dirname and __filename in as the build's own paths.
if (text.includes(ROOT)) {
  console.error(`build-bun-command: dist/cli-bun.cjs holds this machine's path (${ROOT}): is __dirname or __filename read?`);
  process.exit(1);
}
