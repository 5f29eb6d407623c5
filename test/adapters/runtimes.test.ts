/** Runs the in-process adapter checks (adapter-check.ts) on Node, Bun and Deno, each in its own process. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { ROOT, selectedRuntimes } from "../support/harness.ts";

for (const runtime of selectedRuntimes()) {
  it(`adapter checks on ${runtime.name}`, () => {
    const run = spawnSync(runtime.command, runtime.args(path.join(ROOT, "test/adapters/adapter-check.ts")), {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, output);
    assert.match(run.stdout, /^4 passed, 0 failed$/m, output);
  });
}
