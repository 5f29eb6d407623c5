#!/usr/bin/env node
/**
 * `node --test` over test files in the order given: Node 20's `node --test` sorts them by name,
 * and scripts/test.mjs passes the slowest first so that a pool of N files ends together.
 *
 *   node --import tsx --test-timeout=180000 scripts/test-files.mjs --concurrency 3 a.test.ts b.test.ts
 *
 * Node's flags before the script reach every file's process, as with `node --test` (the
 * `--test-timeout` given there is also each file's own limit). TAP output, or spec on a terminal,
 * as `node --test` prints; exit 1 when a test failed.
 */
import { run } from "node:test";
import { spec, tap } from "node:test/reporters";
import { parseArgs } from "node:util";

const { values, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { concurrency: { type: "string", default: "1" } },
});
const concurrency = Number(values.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
  console.error(`test-files: --concurrency must be an integer from 1 to 64, got ${JSON.stringify(values.concurrency)}`);
  process.exit(2);
}
if (files.length === 0) {
  console.error("test-files: no test files given");
  process.exit(2);
}
const flag = process.execArgv.find((a) => a.startsWith("--test-timeout="));
const timeout = flag ? Number(flag.slice("--test-timeout=".length)) : Infinity;

const stream = run({ files, concurrency, timeout });
stream.on("test:fail", (data) => {
  if (data.todo === undefined || data.todo === false) process.exitCode = 1;
});
stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
