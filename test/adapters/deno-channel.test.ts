/** Runs the Deno workers' channel checks (deno-channel-check.ts) in a Deno process. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { ROOT, selectedRuntimes } from "../support/harness.ts";

for (const runtime of selectedRuntimes().filter((r) => r.name === "deno")) {
  it("the Deno workers' channel on real processes and sockets", () => {
    const run = spawnSync(runtime.command, ["run", "-A", path.join(ROOT, "test/adapters/deno-channel-check.ts")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.status, 0, output);
    assert.match(run.stdout, /^3 passed, 0 failed$/m, output);
  });
}
