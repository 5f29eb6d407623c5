#!/usr/bin/env node
/**
 * The conformance suite on every extra Node major: `npm run test:matrix` (all of them) or
 * `node scripts/matrix.mjs 22 26` (some). Node 20 (this machine's), Bun and Deno are covered by
 * `npm run test:conformance`.
 *
 * Each major is installed on demand by scripts/node-majors.mjs (into .cache/node/). The test
 * runner itself runs on that Node, and
 * the harness spawns the fixtures with `process.execPath`, so with SG_RUNTIMES=node every server
 * under test runs on that Node too. Majors run one after another: the suite measures timings, and
 * three suites at once on a small machine would make them flaky.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NODE_MAJORS, nodeBinary } from "./node-majors.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MAJORS = Object.keys(NODE_MAJORS);

const wanted = process.argv.slice(2);
for (const major of wanted) {
  if (!MAJORS.includes(major)) {
    console.error(`matrix: unknown Node major "${major}" (known: ${MAJORS.join(", ")})`);
    process.exit(2);
  }
}
const majors = wanted.length > 0 ? wanted : MAJORS;
const suite = readdirSync(path.join(ROOT, "test/conformance"))
  .filter((file) => file.endsWith(".test.ts"))
  .sort()
  .map((file) => path.join("test/conformance", file));

const results = [];
for (const major of majors) {
  const node = nodeBinary(major);
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  console.log(`\n# matrix: conformance on Node ${version} (${path.relative(ROOT, node)})`);
  const started = performance.now();
  const run = spawnSync(node, [
    "--import",
    "tsx",
    "--test",
    "--test-timeout=600000",
    "--test-reporter=spec",
    "--test-concurrency=3",
    ...suite,
  ], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, SG_RUNTIMES: "node" },
  });
  const seconds = (performance.now() - started) / 1000;
  results.push({ version, ok: run.status === 0, seconds, detail: run.signal ?? `exit ${run.status}` });
}

console.log("\n# matrix summary");
for (const r of results) {
  console.log(`#   Node ${r.version.padEnd(9)} ${r.ok ? "ok    " : "FAILED"} ${r.seconds.toFixed(1)} s${r.ok ? "" : ` (${r.detail})`}`);
}
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
